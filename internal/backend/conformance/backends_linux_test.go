package conformance_test

import (
	"os"
	"testing"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/conformance"
	"github.com/paddockhq/paddock/internal/backend/docker"
	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
	"github.com/paddockhq/paddock/internal/backend/native"
	"github.com/paddockhq/paddock/internal/boxinit"
	"github.com/paddockhq/paddock/internal/testroot"
)

// TestMain lets the test binary play the native supervisor and init, which the native backend
// starts by re-executing its own binary with hidden commands.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__init":
			os.Exit(boxinit.Main())
		case "__supervise":
			os.Exit(native.SuperviseMain(os.Args[2]))
		}
	}
	os.Exit(m.Run())
}

func tempRoot(t *testing.T) string {
	d, err := os.MkdirTemp("", "paddock-conf-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestConformance runs the shared suite against every backend.
func TestConformance(t *testing.T) {
	backends := []struct {
		name string
		h    func(t *testing.T) conformance.Harness
	}{
		{"native", func(t *testing.T) conformance.Harness {
			testroot.Require(t, "the conformance suite runs sandboxes as root")
			return conformance.Harness{New: func(t *testing.T) backend.Backend { return native.New() }, Root: tempRoot}
		}},
		{"docker", func(t *testing.T) conformance.Harness {
			ref := dockertest.Image(t)
			return conformance.Harness{
				New:  func(t *testing.T) backend.Backend { return docker.New() },
				Root: tempRoot,
				Prepare: func(t *testing.T, sb *backend.Sandbox) {
					sb.Spec.Template, sb.Spec.Image = ref, &backend.Image{Ref: ref, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}
				},
			}
		}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { conformance.Run(t, b.h(t)) })
	}
}
