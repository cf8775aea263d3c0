package docker

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// fakeEngine answers /_ping as an engine speaking api would (the engines of the tests are too
// new to be too old).
func fakeEngine(t *testing.T, api string) string {
	sock := filepath.Join(t.TempDir(), "old.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("API-Version", api)
		w.Header().Set("Docker-Experimental", "false")
		w.Write([]byte("OK"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func TestEngineErrors(t *testing.T) {
	cases := []struct {
		name, host string
		want       error
		words      string
	}{
		{"too old", "", ErrEngineTooOld, "speaks Engine API 1.30, paddock needs 1.40 (Docker 19.03) or newer; update Docker"},
		{"no engine", "unix:///nonexistent/docker.sock", ErrNoEngine, "no Docker engine at unix:///nonexistent/docker.sock"},
		{"bad host", "ftp://x", ErrNoEngine, "set DOCKER_HOST"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			host := c.host
			if host == "" {
				host = fakeEngine(t, "1.30")
			}
			t.Setenv("DOCKER_HOST", host)
			t.Setenv("DOCKER_API_VERSION", "")
			_, err := New().Engine(context.Background())
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.words) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v; want %v with %q on one line", err, c.want, c.words)
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"1.30", "1.40", true}, {"1.41", "1.40", false}, {"1.40", "1.40", false}, {"1.9", "1.10", true}, {"2.0", "1.44", false}} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
