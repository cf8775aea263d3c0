package native_test

import (
	"os"
	"testing"

	"github.com/paddockhq/paddock/internal/boxinit"
	"github.com/paddockhq/paddock/internal/runtime"
	"github.com/paddockhq/paddock/internal/runtime/conformance"
	"github.com/paddockhq/paddock/internal/runtime/native"
)

// TestMain lets the test binary play the supervisor and the init, which the backend starts by
// re-executing its own binary with hidden commands.
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

func TestConformance(t *testing.T) {
	if os.Geteuid() != 0 && os.Getenv("PADDOCK_ALLOW_SKIP_ROOT") != "1" {
		t.Fatal("the conformance suite runs sandboxes as root; run as root (CI does)")
	}
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) runtime.Backend { return native.New() },
		Root: func(t *testing.T) string {
			d, err := os.MkdirTemp("", "paddock-conf-")
			if err != nil {
				t.Fatal(err)
			}
			os.Chmod(d, 0o755)
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		},
	})
}
