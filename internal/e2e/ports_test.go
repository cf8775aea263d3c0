package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePort is a TCP port on 127.0.0.1 that nothing listens on (now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get fetches url from the host, retrying while the server inside starts.
func get(t *testing.T, url string, d time.Duration) (string, error) {
	t.Helper()
	var last error
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(150 * time.Millisecond) {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == 200 {
			return string(b), nil
		}
		last = fmt.Errorf("status %d, %v", resp.StatusCode, err)
	}
	return "", last
}

// Published ports, root and rootless: a dev server inside (python3's http.server on the
// sandbox's loopback) reached from the host with an HTTP client; a port published and
// unpublished while the sandbox runs; the ports again after stop and start (the server on ::1
// this time); a host port in use refused with one line at publish and at create (no sandbox
// left); and the sandbox still has no network interface but loopback.
func TestPorts(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		checkPorts(t, e, nil, "::1", func(bind string) string { return "exec python3 -m http.server 8000 --bind " + bind })
	})
}

// The same on the Docker backend (root, and an ordinary user of the docker group): the
// container keeps --network none; the dev server is busybox's httpd.
// In the link mode (an engine elsewhere: Docker Desktop, a remote one), each connection goes
// through the Engine API instead.
func TestPortsDocker(t *testing.T) {
	check := func(t *testing.T, e *env) {
		// (Docker's containers have IPv6 off, ::1 included.)
		checkPorts(t, e, []string{"--backend", "docker"}, "127.0.0.1", func(bind string) string {
			return "exec busybox httpd -f -h . -p " + bind + ":8000"
		})
	}
	forEachDockerMode(t, check)
	t.Run("link", func(t *testing.T) {
		e, _ := dockerEnv(t)
		e.extra = append(e.extra, "PADDOCK_DOCKER_EGRESS=link")
		check(t, e)
	})
}

func checkPorts(t *testing.T, e *env, backend []string, again string, serve func(bind string) string) {
	{
		ws := e.workspace("ports")
		e.writeFile(filepath.Join(ws, "index.txt"), "served-from-the-sandbox\n")
		hp, hp2 := freePort(t), freePort(t)
		r := e.run(ws, append(append([]string{}, backend...), "run", "-d", "-p", fmt.Sprintf("%d:8000", hp), "shell", "-c", serve("127.0.0.1"))...)
		if r.code != 0 {
			t.Fatalf("run -d -p: %s", r)
		}
		name := strings.TrimSpace(r.stdout)
		url := func(p int) string { return fmt.Sprintf("http://127.0.0.1:%d/index.txt", p) }
		if body, err := get(t, url(hp), 20*time.Second); err != nil || body != "served-from-the-sandbox\n" {
			t.Fatalf("the dev server through -p: %q, %v\nlogs: %s", body, err, e.run(ws, "logs", name).stdout)
		}
		var ports []struct {
			HostIP   string `json:"host_ip"`
			HostPort int    `json:"host_port"`
			Port     int    `json:"port"`
		}
		if err := json.Unmarshal([]byte(e.ok(ws, "port", "ls", "--json", name)), &ports); err != nil || len(ports) != 1 ||
			ports[0].HostIP != "127.0.0.1" || ports[0].HostPort != hp || ports[0].Port != 8000 {
			t.Errorf("port ls --json: %+v, %v", ports, err)
		}
		// Published and unpublished while it runs.
		e.ok(ws, "port", "publish", name, fmt.Sprintf("%d:8000", hp2))
		if body, err := get(t, url(hp2), 10*time.Second); err != nil || !strings.Contains(body, "served") {
			t.Fatalf("a port published while running: %q, %v", body, err)
		}
		e.ok(ws, "port", "unpublish", name, fmt.Sprint(hp2))
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hp2), time.Second); err == nil {
			c.Close()
			t.Error("an unpublished port still accepts connections")
		}
		// Only loopback inside.
		if dev := e.ok(ws, "exec", name, "cat", "/proc/net/dev"); strings.Count(dev, ":") != 1 || !strings.Contains(dev, "lo:") {
			t.Errorf("the sandbox has network interfaces:\n%s", dev)
		}
		// Stop and start: the port is published again (to a server on ::1 now).
		e.ok(ws, "stop", name)
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hp), time.Second); err == nil {
			c.Close()
			t.Error("a stopped sandbox's port still accepts connections")
		}
		e.ok(ws, "run", "-d", name, "-c", serve(again))
		if body, err := get(t, url(hp), 20*time.Second); err != nil || !strings.Contains(body, "served") {
			t.Fatalf("the port after stop and start (server on %s): %q, %v", again, body, err)
		}
		// A host port in use: one line, non-zero, nothing made.
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		bp := busy.Addr().(*net.TCPAddr).Port
		for _, args := range [][]string{
			{"port", "publish", name, fmt.Sprintf("%d:8000", bp)},
			append(append([]string{}, backend...), "run", "--name", "busy-port", "-p", fmt.Sprint(bp), "shell", "-c", "true"),
			{"port", "publish", name, "70000"},
		} {
			ws2 := e.workspace("ports-busy")
			r := e.run(ws2, args...)
			if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("paddock %s: want one line and a failure: %s", strings.Join(args, " "), r)
			}
		}
		if ls := e.ok(ws, "ls", "-a"); strings.Contains(ls, "busy-port") {
			t.Errorf("a sandbox whose port was in use was left behind:\n%s", ls)
		}
		if out := e.ok(ws, "port", "ls", "--json", name); strings.Contains(out, fmt.Sprint(bp)) {
			t.Errorf("a refused port was recorded: %s", out)
		}
		if e.mode == asRootless {
			r := e.run(ws, "port", "publish", name, "80")
			if r.code == 0 || !strings.Contains(r.stderr, "below 1024") {
				t.Errorf("rootless, port 80: %s", r)
			}
		}
		os.Remove(filepath.Join(ws, "index.txt"))
	}
}
