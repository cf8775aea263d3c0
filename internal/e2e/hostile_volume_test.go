package e2e

// The agents' config volume is written by sandboxes and read by paddock on the host (it seeds
// each agent's settings before a start): a settings file that a sandbox turned into a link to a
// host file, a FIFO or a device must not make paddock read, follow, change or wait on anything.

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
)

// TestHostileConfigVolume: on both backends, as root and (native) as an ordinary user.
func TestHostileConfigVolume(t *testing.T) {
	for _, c := range []struct {
		name    string
		mode    mode
		backend string
	}{{"native/root", asRoot, "native"}, {"native/rootless", asRootless, "native"}, {"docker/root", asRoot, "docker"}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.mode)
			procReap(t, e)
			agSetup(t, e, "")
			in := agEnsureInstalled(t, "claude")
			var args []string
			if c.backend == "docker" {
				args = []string{"--backend", "docker", "run", "-t", claudeImage(t, in)}
			} else {
				args = []string{"run"}
			}
			testHostileConfigVolume(t, e, args)
		})
	}
}

// elfFiles lists the ELF executables and libraries below dir (an agent's native files, whose
// libraries a Docker test image must carry).
func elfFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if f, err := os.Open(p); err == nil {
				magic := make([]byte, 4)
				f.Read(magic)
				f.Close()
				if string(magic) == "\x7fELF" {
					out = append(out, p)
				}
			}
		}
		return nil
	})
	return out
}

// claudeImage is the Docker test image with node and Claude Code's native files' libraries.
func claudeImage(t *testing.T, in *agInstall) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("the agent tests need node on the host (scripts/test.sh installs nodejs)")
	}
	elves := elfFiles(in.dir)
	return dockertest.ImageWithLibs(t, []string{node}, elves)
}

func testHostileConfigVolume(t *testing.T, e *env, runArgs []string) {
	ws := e.workspace("seedproj")
	secret := "HOST-SECRET-" + hosRandom()
	canary := filepath.Join(e.dir, "docker-config.json")
	e.writeFile(canary, `{"auths":{"registry.example":{"auth":"`+secret+`"}}}`+"\n")
	os.Chmod(canary, 0o600)
	run := func(what string) result {
		t.Helper()
		start := time.Now()
		r := e.run(ws, append(runArgs, "claude", "--", "--version")...)
		if r.code != 0 {
			t.Fatalf("%s: %s", what, r)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%s took %v", what, d)
		}
		return r
	}
	run("first run")
	name := "claude-seedproj"
	vol := filepath.Join(e.phome, "volumes", "paddock-claude-data", "claude")
	// From inside: settings.json a link to the host file, .claude.json a FIFO.
	e.ok("", "exec", name, "sh", "-c", "cd /root/.claude && rm -f settings.json .claude.json && ln -s "+canary+" settings.json && mkfifo .claude.json")
	e.ok("", "stop", name)
	r := run("run after the plant")
	if !strings.Contains(r.stderr, "settings.json") && !strings.Contains(r.stderr, ".claude.json") {
		t.Errorf("no warning about the planted settings files: %s", r)
	}
	if b, _ := os.ReadFile(canary); !strings.Contains(string(b), secret) || strings.Contains(string(b), "apiKeyHelper") {
		t.Fatalf("ESCAPE: the host file the link named was changed: %q", b)
	}
	filepath.WalkDir(filepath.Join(e.phome, "volumes"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
				t.Errorf("LEAK: the host file's content was copied into the volume: %s", p)
			}
		}
		return nil
	})
	if st, err := os.Lstat(filepath.Join(vol, "settings.json")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted link was not left as it was: %v %v", st, err)
	}
	// And a link to an endless device: not read.
	e.ok("", "exec", name, "sh", "-c", "cd /root/.claude && rm -f .claude.json && ln -s /dev/zero .claude.json")
	e.ok("", "stop", name)
	run("run with a link to /dev/zero")
}
