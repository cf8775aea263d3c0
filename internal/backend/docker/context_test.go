package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
)

// writeContext makes a docker CLI context named name for host in the config folder dir.
func writeContext(t *testing.T, dir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	os.MkdirAll(meta, 0o755)
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"`+name+`","Metadata":{},"Endpoints":{"docker":{"Host":"`+host+`","SkipTLSVerify":false}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The engine is the docker CLI's: DOCKER_HOST, else the current context, else the default.
func TestClientFollowsDockerContext(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, "colima", "unix:///tmp/colima/docker.sock")
	writeContext(t, dir, "remote", "tcp://127.0.0.1:2376")
	for _, tc := range []struct {
		name, config, contextEnv, hostEnv string
		want, fails                       string
	}{
		{name: "nothing set", want: "unix:///var/run/docker.sock"},
		{name: "current context", config: `{"currentContext":"colima"}`, want: "unix:///tmp/colima/docker.sock"},
		{name: "default context", config: `{"currentContext":"default"}`, want: "unix:///var/run/docker.sock"},
		{name: "DOCKER_CONTEXT wins", config: `{"currentContext":"colima"}`, contextEnv: "remote", want: "tcp://127.0.0.1:2376"},
		{name: "DOCKER_HOST wins", config: `{"currentContext":"colima"}`, hostEnv: "tcp://127.0.0.1:9999", want: "tcp://127.0.0.1:9999"},
		{name: "unknown context", config: `{"currentContext":"gone"}`, fails: `context "gone"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.config), 0o644)
			t.Setenv("DOCKER_CONFIG", dir)
			t.Setenv("DOCKER_CONTEXT", tc.contextEnv)
			t.Setenv("DOCKER_HOST", tc.hostEnv)
			if tc.hostEnv == "" {
				os.Unsetenv("DOCKER_HOST")
			}
			c, err := newClient()
			if tc.fails != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fails) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("want one line about %s, got %v", tc.fails, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.DaemonHost(); got != tc.want {
				t.Fatalf("engine %s, want %s", got, tc.want)
			}
		})
	}
}

// A context at another path than the default socket reaches the engine (when one runs here).
func TestEngineThroughContext(t *testing.T) {
	dockertest.Require(t) // an engine this user may use (else: fails in CI, skipped elsewhere)
	dir := t.TempDir()
	sock := filepath.Join(dir, "engine.sock")
	if err := os.Symlink("/var/run/docker.sock", sock); err != nil {
		t.Fatal(err)
	}
	writeContext(t, dir, "elsewhere", "unix://"+sock)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"elsewhere"}`), 0o644)
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("DOCKER_HOST", "")
	os.Unsetenv("DOCKER_HOST")
	e, err := New().Engine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Host, sock) || e.Version == "" {
		t.Fatalf("engine %+v, want the one at %s", e, sock)
	}
}
