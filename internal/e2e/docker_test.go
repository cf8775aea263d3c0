package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker/dockername"
	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
	"github.com/paddockhq/paddock/internal/egress"
)

// dockerEnv is a root paddock installation whose new sandboxes go to the Docker engine, with the
// test image (busybox and git) as the image of the host template.
func dockerEnv(t *testing.T) (*env, string) {
	t.Helper()
	ref := dockertest.Image(t)
	e := newEnv(t, asRoot)
	e.extra = append(e.extra, "PADDOCK_DOCKER_IMAGE="+ref)
	return e, ref
}

// forEachDockerMode runs fn on the Docker backend as root and as an ordinary user of the docker
// group (paddock's rootless side, the engine's containers as ever).
func forEachDockerMode(t *testing.T, fn func(t *testing.T, e *env)) {
	ref := dockertest.Image(t)
	for _, m := range []mode{asRoot, asRootless} {
		t.Run(string(m), func(t *testing.T) {
			e := newEnv(t, m)
			if m == asRootless {
				e.groups = append(e.groups, dockerGID(t))
			}
			e.extra = append(e.extra, "PADDOCK_DOCKER_IMAGE="+ref)
			fn(t, e)
		})
	}
}

type inspected struct {
	Backend string `json:"backend"`
	Paths   map[string]string
	Limits  struct {
		Enforced struct {
			CPUs        float64 `json:"cpus"`
			MemoryBytes int64   `json:"memory_bytes"`
			PidsMax     int64   `json:"pids_max"`
		} `json:"enforced"`
	} `json:"limits"`
	DockerSocket bool     `json:"docker_socket"`
	Differences  []string `json:"differences"`
	State        struct {
		Status string `json:"status"`
	} `json:"state"`
}

func inspectOne(t *testing.T, e *env, name string) inspected {
	t.Helper()
	var v []inspected
	if err := json.Unmarshal([]byte(e.ok("", "inspect", name)), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return v[0]
}

// TestDockerBackend drives the CLI with --backend docker through a sandbox's life.
func TestDockerBackend(t *testing.T) {
	e, _ := dockerEnv(t)
	c := dockertest.Require(t)
	ctx := context.Background()
	ws := e.workspace("proj")
	e.writeFile(filepath.Join(ws, "from-host"), "hello\n")

	// Created on docker: the workspace at its own path, no network, the host's git identity.
	r := e.run(ws, "--backend", "docker", "run", "shell", "-c", `cat from-host; pwd; ls /sys/class/net; git var GIT_AUTHOR_IDENT | cut -d'>' -f1; echo made > from-sandbox`)
	if r.code != 0 || r.stdout != "hello\n"+ws+"\nlo\nPaddock Tester <tester@paddock.test\n" {
		t.Fatalf("first run: %s", r)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "from-sandbox")); string(b) != "made\n" {
		t.Fatalf("host sees %q", b)
	}
	if !strings.Contains(r.stderr, "created sandbox shell-proj") {
		t.Errorf("stderr: %q", r.stderr)
	}
	// ls shows the backend.
	var entries []struct{ Name, Backend string }
	json.Unmarshal([]byte(e.ok("", "ls", "--json")), &entries)
	if len(entries) != 1 || entries[0].Backend != "docker" {
		t.Fatalf("ls --json: %+v", entries)
	}
	if out := strings.Split(strings.TrimSpace(e.ok("", "ls")), "\t"); len(out) < 7 || out[6] != "docker" {
		t.Errorf("ls: %q", out)
	}
	in := inspectOne(t, e, "shell-proj")
	ci, err := c.ContainerInspect(ctx, in.Paths["container"])
	if err != nil {
		t.Fatal(err)
	}
	if ci.HostConfig.NetworkMode != "none" || len(ci.NetworkSettings.Networks) != 1 || ci.NetworkSettings.Networks["none"] == nil {
		t.Fatalf("container network: %s %v", ci.HostConfig.NetworkMode, ci.NetworkSettings.Networks)
	}
	if len(in.Differences) == 0 {
		t.Error("inspect lists no differences from the native engine")
	}

	// Reused, on docker even without --backend (the default here is native).
	r = e.run(ws, "run", "shell", "-c", "cat from-sandbox; echo h > ~/h; echo t > /tmp/t")
	if r.code != 0 || r.stdout != "made\n" || strings.Contains(r.stderr, "created") {
		t.Fatalf("reuse: %s", r)
	}
	if r := e.run(ws, "--backend", "native", "run", "shell", "-c", "true"); r.code != 0 || !strings.Contains(r.stderr, "runs on the docker backend") {
		t.Fatalf("--backend native on a docker sandbox: %s", r)
	}
	if entries := e.ok("", "ls", "-a", "-q"); len(strings.Fields(entries)) != 1 {
		t.Fatalf("one sandbox per workspace and agent: %q", entries)
	}

	// exec: exit codes, env, -w, -u, stdin, not found.
	for _, c := range []struct {
		args  []string
		stdin string
		code  int
		out   string
		err   string
	}{
		{[]string{"exec", "shell-proj", "sh", "-c", "exit 7"}, "", 7, "", ""},
		{[]string{"exec", "-e", "A=1", "shell-proj", "sh", "-c", "echo $A $PWD"}, "", 0, "1 " + ws + "\n", ""},
		{[]string{"exec", "-w", "/tmp", "shell-proj", "pwd"}, "", 0, "/tmp\n", ""},
		{[]string{"exec", "-u", "nobody", "shell-proj", "id", "-u"}, "", 0, "65534\n", ""},
		{[]string{"exec", "-i", "shell-proj", "sh", "-c", "tr a-z A-Z; echo err >&2"}, "abc\n", 0, "ABC\n", "err\n"},
		{[]string{"exec", "shell-proj", "no-such-command"}, "", 127, "", "paddock: no-such-command: command not found in the sandbox\n"},
		{[]string{"exec", "shell-proj", "sh", "-c", "kill -9 $$"}, "", 137, "", ""},
	} {
		r := e.runInput("", c.stdin, c.args...)
		if r.code != c.code || r.stdout != c.out || r.stderr != c.err {
			t.Errorf("%v: %s", c.args, r)
		}
	}

	// Persists across stop/start: the home volume and the container's own files.
	e.ok("", "stop", "shell-proj")
	if st := inspectOne(t, e, "shell-proj").State.Status; st != "stopped" {
		t.Fatalf("after stop: %s", st)
	}
	if r := e.run(ws, "run", "shell", "-c", "cat ~/h /tmp/t"); r.code != 0 || r.stdout != "h\nt\n" {
		t.Fatalf("after stop/start: %s", r)
	}

	// Limits: re-created with new ones (keeping its files), enforced by the engine.
	if r := e.run(ws, "run", "--cpus", "0.5", "--memory", "256m", "--pids-limit", "100", "shell", "-c", "true"); r.code == 0 || !strings.Contains(r.stderr, "--recreate") {
		t.Fatalf("limit drift: %s", r)
	}
	e.ok(ws, "run", "--recreate", "--cpus", "0.5", "--memory", "256m", "--pids-limit", "100", "shell", "-c", "true")
	in = inspectOne(t, e, "shell-proj")
	if en := in.Limits.Enforced; en.CPUs != 0.5 || en.MemoryBytes != 256<<20 || en.PidsMax != 100 {
		t.Fatalf("enforced: %+v", en)
	}
	ci, _ = c.ContainerInspect(ctx, in.Paths["container"])
	if ci.HostConfig.NanoCPUs != 5e8 || ci.HostConfig.Memory != 256<<20 || *ci.HostConfig.PidsLimit != 100 {
		t.Fatalf("engine's view: %d %d %d", ci.HostConfig.NanoCPUs, ci.HostConfig.Memory, *ci.HostConfig.PidsLimit)
	}
	if r := e.run(ws, "run", "shell", "-c", "cat ~/h /tmp/t"); r.stdout != "h\nt\n" {
		t.Fatalf("after re-create: %s", r)
	}
	// A new mount re-creates the container; its own files are kept.
	extra := e.workspace("extra")
	e.ok(ws, "run", "--recreate", "-v", extra+":/mnt/extra", "shell", "-c", "true")
	if r := e.run(ws, "run", "shell", "-c", "cat /tmp/t; ls -d /mnt/extra"); r.stdout != "t\n/mnt/extra\n" {
		t.Fatalf("after re-create with a mount: %s", r)
	}

	// rm removes the container and its volumes, never the workspace.
	e.ok("", "rm", "-f", "shell-proj")
	if _, err := c.ContainerInspect(ctx, in.Paths["container"]); err == nil {
		t.Error("container still there after rm")
	}
	vols, _ := c.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("name", in.Paths["home_volume"]))})
	if len(vols.Volumes) != 0 {
		t.Error("home volume still there after rm")
	}
	for _, f := range []string{"from-host", "from-sandbox"} {
		if _, err := os.Stat(filepath.Join(ws, f)); err != nil {
			t.Errorf("workspace lost %s: %v", f, err)
		}
	}
}

// TestDockerBackendChoice: PADDOCK_BACKEND and the config file choose the backend; bad values,
// no engine and a missing image are one clear line each.
func TestDockerBackendChoice(t *testing.T) {
	e, _ := dockerEnv(t)
	ws := e.workspace("cfg")
	cfgDir := filepath.Join(e.dir, "xdg")
	os.MkdirAll(filepath.Join(cfgDir, "paddock"), 0o755)
	os.WriteFile(filepath.Join(cfgDir, "paddock", "config.toml"), []byte("# paddock\nbackend = \"docker\"\n"), 0o644)
	e.extra = append(e.extra, "XDG_CONFIG_HOME="+cfgDir)
	e.ok(ws, "run", "-d", "shell")
	var entries []struct{ Name, Backend string }
	json.Unmarshal([]byte(e.ok("", "ls", "--json")), &entries)
	if len(entries) != 1 || entries[0].Backend != "docker" {
		t.Fatalf("config file backend: %+v", entries)
	}
	ws2 := e.workspace("env")
	e.extra = append(e.extra, "PADDOCK_BACKEND=native")
	e.ok(ws2, "run", "-d", "shell")
	json.Unmarshal([]byte(e.ok("", "ls", "--json")), &entries)
	for _, en := range entries {
		if want := map[string]string{"shell-cfg": "docker", "shell-env": "native"}[en.Name]; en.Backend != want {
			t.Errorf("%s on %s, want %s", en.Name, en.Backend, want)
		}
	}
	ws3 := e.workspace("bad")
	oneLine := func(r result, code int, want string) {
		t.Helper()
		if r.code != code || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("want exit %d and one line with %q: %s", code, want, r)
		}
	}
	oneLine(e.run(ws3, "--backend", "podman", "run", "shell"), 2, `--backend "podman": use native or docker`)
	oneLine(e.run(ws3, "--backend", "docker", "run", "-t", "paddock-test/absent:1", "--pull", "never", "shell"), 125,
		"image paddock-test/absent:1 is not in the Docker engine")
	noEngine := *e
	noEngine.extra = append(append([]string{}, e.extra...), "DOCKER_HOST=unix://"+filepath.Join(e.dir, "no-engine.sock"))
	oneLine(noEngine.run(ws3, "--backend", "docker", "run", "shell"), 125, "no Docker engine at unix://")
	if d := e.sandboxDirs(); len(d) != 2 {
		t.Errorf("bad input left state behind: %v", d)
	}
	// doctor names the engine it found.
	var doc struct {
		Backend string `json:"backend"`
		Docker  struct {
			Version    string `json:"version"`
			APIVersion string `json:"api_version"`
		} `json:"docker_engine"`
	}
	json.Unmarshal([]byte(e.run("", "--backend", "docker", "doctor", "--json").stdout), &doc)
	if doc.Backend != "docker" || doc.Docker.Version == "" || doc.Docker.APIVersion == "" {
		t.Errorf("doctor --json: %+v", doc)
	}
	bad := filepath.Join(e.dir, "bad.toml")
	os.WriteFile(bad, []byte("backend = docker\ncolour = 1\n"), 0o644)
	badCfg := *e
	badCfg.extra = append(append([]string{}, e.extra...), "PADDOCK_CONFIG="+bad)
	oneLine(badCfg.run(ws3, "ls"), 1, `unknown key "colour"`)
}

// TestMountDockerSocket: with the flag, the docker CLI inside talks to the host's engine (both
// backends); without it there is no socket.
func TestMountDockerSocket(t *testing.T) {
	info, err := dockertest.Require(t).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	engineID := info.ID
	cli := "/usr/local/bin/docker"
	if _, err := os.Stat(cli); err != nil {
		cli = "/usr/bin/docker"
	}
	// The Docker backend with its engine elsewhere (engineElsewhere) mounts the engine's own
	// socket, not the path this host reaches it at.
	for _, backend := range []string{"native", "docker", "docker-elsewhere"} {
		t.Run(backend, func(t *testing.T) {
			e, _ := dockerEnv(t)
			if backend == "docker-elsewhere" {
				engineElsewhere(t, e)
				backend = "docker"
			}
			ws := e.workspace("sock")
			vol := "-v=" + cli + ":/mnt/dockercli/docker:ro"
			// docker ps answers, and the engine is the host's (its ID).
			r := e.run(ws, "--backend", backend, "run", "--mount-docker-socket", vol, "shell", "-c",
				"/mnt/dockercli/docker ps >/dev/null && /mnt/dockercli/docker info --format '{{.ID}}'")
			if r.code != 0 || r.stdout != engineID+"\n" || !strings.Contains(r.stderr, "hands the agent control of the Docker engine") {
				t.Fatalf("with the socket: %s", r)
			}
			if in := inspectOne(t, e, "shell-sock"); !in.DockerSocket {
				t.Error("inspect: docker_socket false")
			}
			// Drift, like -v: dropping it needs --recreate.
			if r := e.run(ws, "run", "--mount-docker-socket=false", "shell", "-c", "true"); r.code == 0 || !strings.Contains(r.stderr, "docker.sock") {
				t.Errorf("drift: %s", r)
			}
			ws2 := e.workspace("nosock")
			r = e.run(ws2, "--backend", backend, "run", vol, "shell", "-c", "/mnt/dockercli/docker ps; ls /var/run/docker.sock /run/docker.sock")
			if r.code == 0 || strings.Contains(r.stderr, "hands the agent") {
				t.Fatalf("without the flag: %s", r)
			}
		})
	}
}

// TestDockerTTY: exec -it on the Docker backend gets a terminal of the caller's size that follows
// resizes, leaves the caller's terminal as it was, and passes the exit code through. (Engines
// before API 1.42, as here, cannot size the terminal before the process starts: like `docker
// exec`, paddock sizes it a moment after, hence the sleep.)
func TestDockerTTY(t *testing.T) {
	e, _ := dockerEnv(t)
	ws := e.workspace("tty")
	e.ok(ws, "--backend", "docker", "run", "-d", "shell")
	p := procStartPTY(t, e, ws, 30, 90, "exec", "-it", "shell-tty", "sh", "-c", "tty; sleep 0.5; stty size; read x; stty size; exit 3")
	before := p.termios()
	p.expect(regexp.MustCompile(`(?m)^30 90$`), 10*time.Second, "the caller's size")
	if err := pty.Setsize(p.master, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGWINCH)
	time.Sleep(300 * time.Millisecond)
	p.send("\n")
	p.expect(regexp.MustCompile(`(?m)^40 100$`), 10*time.Second, "the new size")
	if code := p.wait(10*time.Second, "exec -it"); code != 3 {
		t.Errorf("exit %d, want 3; terminal:\n%s", code, p.output())
	}
	if !regexp.MustCompile(`(?m)^/dev/pts/\d+$`).MatchString(p.output()) {
		t.Errorf("no /dev/pts terminal inside:\n%s", p.output())
	}
	if after := p.termios(); after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("exec -it left the terminal changed")
	}
}

// engineElsewhere makes the test's engine look like one on another host (Docker Desktop's VM,
// Colima, a remote engine): paddock reaches it at tcp://127.0.0.1:PORT, a plain relay to the
// engine's socket, so it cannot assume the engine sees this host's files or sockets. The link
// mode must then carry the sandbox's egress over the engine's API.
func engineElsewhere(t *testing.T, e *env) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Open until the test process ends: the env's own cleanup (rm -f --all, registered before
	// this) still needs the engine.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("unix", "/var/run/docker.sock")
				if err != nil {
					return
				}
				defer u.Close()
				go func() { io.Copy(u, c); u.(*net.UnixConn).CloseWrite() }()
				io.Copy(c, u)
			}()
		}
	}()
	e.extra = append(e.extra, "DOCKER_HOST=tcp://"+ln.Addr().String())
}

// engineWhere runs fn with the engine on this host, and with it "elsewhere" (engineElsewhere).
func engineWhere(t *testing.T, fn func(t *testing.T, elsewhere bool)) {
	for _, where := range []string{"here", "elsewhere"} {
		t.Run(where, func(t *testing.T) { fn(t, where == "elsewhere") })
	}
}

// TestDockerEgress: a Docker sandbox reaches out only through paddock's proxy, as its policy
// says, and the proxy's decisions are paddock's (policy allow, blocked lines, the audit log);
// with the engine on this host (the proxy's socket is mounted) and elsewhere (linked over the
// engine's API, nothing of the host mounted but the workspace).
func TestDockerEgress(t *testing.T) { engineWhere(t, testDockerEgress) }

func testDockerEgress(t *testing.T, elsewhere bool) {
	e, _ := dockerEnv(t)
	if elsewhere {
		engineElsewhere(t, e)
	}
	want := map[bool]string{false: "egress: the proxy's socket is mounted", true: "egress: linked over docker exec streams"}[elsewhere]
	if r := e.run("", "--backend", "docker", "doctor"); !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("doctor does not say %q: %s", want, r)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the host") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	hosts := filepath.Join(e.dir, "hosts")
	e.writeFile(hosts, "allowed.test 127.0.0.1\ndenied.test 127.0.0.1\n")
	e.extra = append(e.extra, "PADDOCK_EGRESS_HOSTS="+hosts)
	ws := e.workspace("egress")
	e.ok("", "policy", "allow", "allowed.test")
	// busybox's wget crashes in the test image: the proxy's plain-HTTP side is spoken with nc.
	get := func(host string) string {
		return fmt.Sprintf(`printf 'GET http://%s:%d/ HTTP/1.0\r\n\r\n' | nc -w 5 127.0.0.1 3128`, host, port)
	}
	r := e.run(ws, "--backend", "docker", "run", "--network", "locked", "shell", "-c", get("allowed.test"))
	if r.code != 0 || !strings.HasSuffix(r.stdout, "hello from the host") {
		t.Fatalf("allowed host through the proxy: %s", r)
	}
	r = e.run(ws, "run", "shell", "-c", get("denied.test")+"; echo | nc -w 3 127.0.0.1 "+strconv.Itoa(port))
	if strings.Contains(r.stdout, "hello") || !strings.Contains(r.stdout, "403") || !strings.Contains(r.stderr, "blocked denied.test") {
		t.Fatalf("denied host, and the host without the proxy: %s", r)
	}
	if log := e.ok("", "policy", "log", "shell-egress"); !strings.Contains(log, "allowed.test") || !strings.Contains(log, "denied.test") {
		t.Errorf("policy log: %s", log)
	}
	// The proxy's host side lives as long as the sandbox runs.
	state := inspectOne(t, e, "shell-egress").Paths["state"]
	if servers(state) != 1 {
		t.Fatalf("%d proxy processes for the running sandbox", servers(state))
	}
	ci, err := dockertest.Require(t).ContainerInspect(context.Background(), dockername.ContainerName(&backend.Sandbox{Name: "shell-egress", ID: procInspect(t, e, "shell-egress").ID}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ci.Mounts {
		if elsewhere && m.Type == "bind" && m.Source != ws {
			t.Errorf("with the engine elsewhere, %s of this host is mounted at %s", m.Source, m.Destination)
		}
	}
	if want := map[bool]string{false: "/run/paddock/egress/proxy.sock", true: "--link"}[elsewhere]; !strings.Contains(strings.Join(ci.Config.Cmd, " "), want) {
		t.Errorf("the container's relay %q, want %s", ci.Config.Cmd, want)
	}
	// A host side that dies cuts the sandbox off (seen with docker exec, which paddock does not
	// watch); paddock's next command in the sandbox brings it back.
	syscall.Kill(serverPid(state), syscall.SIGKILL)
	for i := 0; i < 100 && servers(state) != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if out, _ := exec.Command("docker", "exec", ci.Name[1:], "sh", "-c", get("allowed.test")).CombinedOutput(); strings.Contains(string(out), "hello") {
		t.Fatalf("reached out with the proxy's host side gone: %s", out)
	}
	if r := e.run(ws, "exec", "shell-egress", "sh", "-c", get("allowed.test")); r.code != 0 || !strings.HasSuffix(r.stdout, "hello from the host") {
		t.Fatalf("exec after the host side died: %s", r)
	}
	if servers(state) != 1 {
		t.Fatalf("%d proxy processes after exec revived it", servers(state))
	}
	e.ok("", "stop", "shell-egress")
	if n := servers(state); n != 0 {
		t.Errorf("%d proxy processes after stop", n)
	}
	e.ok(ws, "run", "-d", "shell")
	e.ok("", "rm", "-f", "shell-egress")
	if n := servers(state); n != 0 {
		t.Errorf("%d proxy processes after rm", n)
	}
}

// serverPids are the egress proxy processes serving the sandbox with state folder dir.
func serverPids(dir string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "__egress-serve\x00"+dir) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// serverPid is one of them (0: none).
func serverPid(dir string) int {
	if pids := serverPids(dir); len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// servers counts them.
func servers(dir string) int { return len(serverPids(dir)) }

// TestDockerSignal: Ctrl-C (SIGINT) to paddock exec without a terminal reaches the process in the
// Docker sandbox, which decides how to end, as on the native engine; with the engine on this
// host (the process found by its pid) and elsewhere (found by the exec's mark in its environment).
func TestDockerSignal(t *testing.T) { engineWhere(t, testDockerSignal) }

func testDockerSignal(t *testing.T, elsewhere bool) {
	e, _ := dockerEnv(t)
	if elsewhere {
		engineElsewhere(t, e)
	}
	ws := e.workspace("sig")
	e.ok(ws, "--backend", "docker", "run", "-d", "shell")
	cmd := e.command(ws, "exec", "shell-sig", "sh", "-c", `trap 'echo got INT; exit 5' INT; echo ready; while :; do sleep 1; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if string(buf[:n]) != "ready\n" {
		t.Fatalf("got %q", buf[:n])
	}
	cmd.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(out)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 5 || string(rest) != "got INT\n" {
		t.Fatalf("after SIGINT: exit %d, output %q", code, rest)
	}
	// Nothing of that exec is left running in the container.
	if r := e.run(ws, "exec", "shell-sig", "sh", "-c", "ps -o args >/dev/null && ps -o args | grep -c '[w]hile'"); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("the exec's processes still run: %s", r)
	}
}

// TestDockerAgents: each agent, installed once on the host, runs in a Docker sandbox whose
// image has Node.js (this host's node with its libraries), mounted read-only as on the native
// engine.
func TestDockerAgents(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("the agent tests need node on the host (scripts/test.sh installs nodejs)")
	}
	e := newEnv(t, asRoot)
	agSetup(t, e, "")
	// The agents' own native executables (Claude Code's, OpenCode's) get their libraries too: a
	// real image (node:22-bookworm) has them.
	var elves []string
	installs := map[string]*agInstall{}
	for _, ac := range agCases {
		in := agEnsureInstalled(t, ac.name)
		installs[ac.name] = in
		elves = append(elves, elfFiles(in.dir)...)
	}
	ref := dockertest.ImageWithLibs(t, []string{node}, elves)
	for _, ac := range agCases {
		t.Run(ac.name, func(t *testing.T) {
			in := installs[ac.name]
			ws := e.workspace("docker-" + ac.name)
			r := e.run(ws, "--backend", "docker", "run", "-t", ref, ac.name, "--", "--version")
			if m := ac.version.FindStringSubmatch(strings.TrimSpace(r.stdout)); r.code != 0 || m == nil || m[1] != in.version {
				t.Fatalf("%s --version on docker: %s", ac.name, r)
			}
		})
	}
}

// TestDockerImageUser: an image whose USER is not root (Docker's sandbox templates) runs its
// processes as that user, with its own home as the persistent home volume.
func TestDockerImageUser(t *testing.T) {
	ref := dockertest.ImageAsUser(t)
	e, _ := dockerEnv(t)
	ws := e.workspace("user")
	r := e.run(ws, "--backend", "docker", "run", "-t", ref, "shell", "-c", `id -un; echo "$HOME"; cat ~/.profile; echo kept > ~/state`)
	if r.code != 0 || r.stdout != "agent\n/home/agent\n# agent's profile\n" {
		t.Fatalf("as the image's user: %s", r)
	}
	var views []struct {
		Mounts struct {
			Persistent []struct{ Kind, Source, Target string }
		}
	}
	json.Unmarshal([]byte(e.ok("", "inspect", "shell-user")), &views)
	if len(views) != 1 || len(views[0].Mounts.Persistent) == 0 || views[0].Mounts.Persistent[0].Target != "/home/agent" {
		t.Errorf("inspect: home volume %+v", views)
	}
	e.ok("", "stop", "shell-user")
	if r := e.run(ws, "run", "shell", "-c", "cat ~/state; id -u"); r.stdout != "kept\n1000\n" {
		t.Fatalf("the user's home after stop/start: %s", r)
	}
	if r := e.run(ws, "exec", "-u", "root", "shell-user", "sh", "-c", `echo "$HOME"; id -u`); r.stdout != "/root\n0\n" {
		t.Fatalf("exec -u root: %s", r)
	}
}

// TestDockerEgressCredentials: on the Docker backend too, the stored key goes into requests at the
// proxy on the host (TLS intercepted with paddock's CA, which the container trusts through its
// bundle), and never into the container: not its environment, processes, memory or files.
func TestDockerEgressCredentials(t *testing.T) { engineWhere(t, testDockerEgressCredentials) }

func testDockerEgressCredentials(t *testing.T, elsewhere bool) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("this test needs curl on the host")
	}
	ref := dockertest.ImageWith(t, curl)
	e, _ := dockerEnv(t)
	if elsewhere {
		engineElsewhere(t, e)
	}
	w := startEgressWorld(t, e)
	key := "sk-ant-e2e-REAL-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if r := e.runInput("", key+"\n", "secret", "set", "anthropic"); r.code != 0 {
		t.Fatalf("secret set: %s", r)
	}
	ws := e.workspace("dockercreds")
	name := strings.TrimSpace(e.ok(ws, "--backend", "docker", "run", "-d", "-t", ref, "shell"))
	r := e.sh(name, `ANTHROPIC_API_KEY=`+egress.Placeholder("anthropic")+` sleep 300 >/dev/null 2>&1 & curl -sS -m 20 https://api.anthropic.com/v1/messages -H "x-api-key: `+egress.Placeholder("anthropic")+`" -d '{}'`)
	if r.code != 0 || !strings.Contains(r.stdout, "hello from the stand-in") {
		t.Fatalf("request to the API from a Docker sandbox: %s", r)
	}
	w.mu.Lock()
	got := append([]string{}, w.apiKeys...)
	w.mu.Unlock()
	if len(got) != 1 || got[0] != key {
		t.Fatalf("the API stand-in received x-api-key %q, want the stored key", got)
	}
	if r := e.sh(name, "env"); strings.Contains(r.stdout, key) || !strings.Contains(r.stdout, "SSL_CERT_FILE="+egress.CABundlePath) {
		t.Fatalf("exec env: %s", r)
	}
	var insp []struct {
		State struct {
			Pids []int `json:"pids"`
		} `json:"state"`
	}
	json.Unmarshal([]byte(e.ok("", "inspect", name)), &insp)
	if len(insp) != 1 || len(insp[0].State.Pids) < 3 {
		t.Fatalf("inspect pids: %+v", insp)
	}
	keyScan(t, insp[0].State.Pids, -1, key, "container")
	if r := e.sh(name, "grep -rlsF -- '"+key+"' /root /tmp /var /run /home /etc "+ws+"; true"); strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("files inside hold the key: %s", r)
	}
	e.ok("", "rm", "-f", name)
}
