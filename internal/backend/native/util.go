package native

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/fsutil"
)

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeJSON replaces path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.ReplaceFile(path, append(b, '\n'), 0o600)
}

func dirOf(p string) string  { return filepath.Dir(p) }
func baseOf(p string) string { return filepath.Base(p) }

// DockerSocketPath is where --mount-docker-socket binds the host's Docker socket (/var/run is a
// link to /run in the sandbox).
const DockerSocketPath = "/run/docker.sock"

// DockerSocket is the host's Docker engine socket, for --mount-docker-socket: DOCKER_HOST when
// it is a unix socket, else /var/run/docker.sock.
func (*Backend) DockerSocket(context.Context) (string, error) {
	p := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		rest, ok := strings.CutPrefix(h, "unix://")
		if !ok {
			return "", fmt.Errorf("DOCKER_HOST is %s, not a unix socket this host could show in the sandbox", h)
		}
		p = rest
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode()&os.ModeSocket == 0 {
		return "", fmt.Errorf("no Docker socket at %s: start Docker (or set DOCKER_HOST=unix:///path/to/docker.sock)", p)
	}
	return p, nil
}

// HoldCommand is the hidden command of a process that only keeps a user namespace alive until
// its stdin closes (ownerUserns reads the namespace from it).
const HoldCommand = "__hold"

// HoldMain waits for stdin to close.
func HoldMain() int {
	io.Copy(io.Discard, os.Stdin)
	return 0
}
