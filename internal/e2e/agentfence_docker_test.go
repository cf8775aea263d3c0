package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
)

// TestDockerAgentInstallFence: on the Docker backend the install runs in a container of the
// engine (the host image, here one with this host's node and npm): the hostile version is
// refused there too and nothing reaches the host; a good version installs and runs. As root and
// as an ordinary user of the docker group.
func TestDockerAgentInstallFence(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("this test needs node and npm on the host (scripts/test.sh installs them)")
	}
	npmDir := "/usr/lib/node_modules/npm"
	if _, err := os.Stat(filepath.Join(npmDir, "bin", "npm-cli.js")); err != nil {
		t.Fatalf("this test copies npm from %s: %v", npmDir, err)
	}
	ref := dockertest.ImageWithTrees(t, []string{node}, nil, []string{npmDir},
		map[string]string{"usr/bin/npm": "../lib/node_modules/npm/bin/npm-cli.js"})
	c := dockertest.Require(t)
	forEachMode(t, func(t *testing.T, e *env) {
		if e.mode == asRootless {
			// An ordinary user of the docker group.
			e.groups = append(e.groups, dockerGID(t))
		}
		hostHome := "/root"
		if e.mode == asRootless {
			hostHome = e.home
		}
		reg := startFakeRegistry(t, "@anthropic-ai/claude-code")
		e.extra = append(e.extra, "PADDOCK_DOCKER_IMAGE="+ref, "NPM_CONFIG_REGISTRY="+reg.url, "NPM_CONFIG_FETCH_RETRIES=0")
		otherPort, reached := otherHost(t)
		nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
		reg.publish(t, "1.0.0", nil, nil, false)
		reg.publish(t, "6.6.6", map[string]string{"postinstall": "node post.js"},
			map[string]string{"post.js": hostileScript(e.phome, hostHome, nonce, otherPort)}, false)
		reg.setLatest("1.0.0")

		ws := e.workspace("dfence")
		r := e.run(ws, "--backend", "docker", "run", "claude", "--", "--version")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "1.0.0 (Claude Code)" {
			t.Fatalf("first install on docker: %s", r)
		}
		var rec struct {
			Backend string `json:"backend"`
			Hosts   []struct {
				Host    string `json:"host"`
				Allowed bool   `json:"allowed"`
			} `json:"hosts"`
		}
		b, _ := os.ReadFile(filepath.Join(e.phome, "agents", "claude", ".log", "1.0.0.json"))
		if json.Unmarshal(b, &rec); rec.Backend != "docker" || len(rec.Hosts) == 0 || !rec.Hosts[0].Allowed {
			t.Fatalf("install record: %s", b)
		}

		reg.setLatest("6.6.6")
		r = e.run("", "--backend", "docker", "agents", "update", "claude")
		if r.code == 0 || len(errorLines(r.stderr)) != 1 || !strings.Contains(r.stderr, "not the registry") || !strings.Contains(r.stderr, "stays at 1.0.0") {
			t.Fatalf("hostile update on docker: %s", r)
		}
		assertFenced(t, nonce, reached, "/root/pwned-"+nonce, filepath.Join(hostHome, "pwned-"+nonce))
		log, _ := os.ReadFile(filepath.Join(e.phome, "agents", "claude", ".log", "6.6.6.log"))
		for _, want := range []string{"hostile: secrets: ENOENT", "hostile: forked", "host evil.example:443 REFUSED", "wrote outside its folder"} {
			if !strings.Contains(string(log), want) {
				t.Errorf("install log lacks %q:\n%s", want, log)
			}
		}
		list, err := c.ContainerList(context.Background(), container.ListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range list {
			for _, n := range ct.Names {
				if strings.Contains(n, "install-claude") {
					t.Errorf("install container left: %s", n)
				}
			}
		}
		if r := e.run(ws, "--backend", "docker", "run", "claude", "--", "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.0.0 (Claude Code)" {
			t.Fatalf("after the refusal: %s", r)
		}
	})
}

// TestDockerAgentsInstallFenced: the four real agents installed by the Docker backend's install
// sandbox (a container of an image with this host's node and npm, reaching the registry through
// the egress proxy), then run on the Docker backend.
func TestDockerAgentsInstallFenced(t *testing.T) {
	node, npmImage := dockerNPMImage(t)
	e := newEnv(t, asRoot)
	e.extra = append(e.extra, "PADDOCK_DOCKER_IMAGE="+npmImage)
	for _, ac := range agCases {
		t.Run(ac.name, func(t *testing.T) {
			if r := e.run("", "--backend", "docker", "agents", "update", ac.name); r.code != 0 {
				t.Fatalf("install on docker: %s", r)
			}
			versions := agVersions(filepath.Join(e.phome, "agents", ac.name))
			if len(versions) != 1 {
				t.Fatalf("installed %q", versions)
			}
			dir := filepath.Join(e.phome, "agents", ac.name, versions[0])
			var rec struct{ Backend string }
			b, _ := os.ReadFile(filepath.Join(e.phome, "agents", ac.name, ".log", versions[0]+".json"))
			if json.Unmarshal(b, &rec); rec.Backend != "docker" {
				t.Fatalf("install record: %s", b)
			}
			// Its native executables (Claude Code's, OpenCode's) need their libraries in the image.
			elves := elfFiles(dir)
			ref := dockertest.ImageWithLibs(t, []string{node}, elves)
			ws := e.workspace("dinstall-" + ac.name)
			r := e.run(ws, "--backend", "docker", "run", "-t", ref, ac.name, "--", "--version")
			if m := ac.version.FindStringSubmatch(strings.TrimSpace(r.stdout)); r.code != 0 || m == nil || m[1] != versions[0] {
				t.Fatalf("%s --version on docker: %s", ac.name, r)
			}
		})
	}
}

// dockerNPMImage is an image with this host's node and npm (an install sandbox's on Docker), and
// node's path.
func dockerNPMImage(t *testing.T) (node, ref string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("this test needs node and npm on the host (scripts/test.sh installs them)")
	}
	return node, dockertest.ImageWithTrees(t, []string{node}, nil, []string{"/usr/lib/node_modules/npm"},
		map[string]string{"usr/bin/npm": "../lib/node_modules/npm/bin/npm-cli.js"})
}

// dockerGID is the Docker engine's group, whose members may use its socket.
func dockerGID(t *testing.T) uint32 {
	t.Helper()
	g, err := user.LookupGroup("docker")
	if err != nil {
		t.Fatalf("the Docker engine's group: %v", err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	return uint32(gid)
}
