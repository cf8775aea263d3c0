package e2e

// The caller's open files: a terminal, an editor or a script that has a directory, a file, a
// socket or a pipe open when it runs paddock must not hand any of them to the sandbox (a
// CVE-2024-21626-class escape: an inherited directory descriptor reads the host's files past
// every mount-namespace boundary), nor to paddock's own long-lived processes on the host (the
// supervisor, the init, the Docker backend's host side), which would otherwise keep a caller's
// pipe open and hang a `$(paddock run -d ...)`.

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
)

// fdProbe prints the descriptors the shell running it holds (its own listing's descriptor,
// closed by the time each is looked at, is left out). Works in bash, dash and busybox sh.
const fdProbe = `cd /proc/$$/fd && for f in *; do [ -L "$f" ] && printf '%s ' "$f"; done; echo`

// fdLeaks are the descriptors a test caller holds open while it runs paddock.
type fdLeaks struct {
	dir, file *os.File // a host folder holding a canary, and a canary file
	sock      *os.File // one end of a unix socket pair
	pipeR     *os.File // the read end of a pipe whose write end the caller hands on
	pipeW     *os.File
	other     []*os.File // the socket's other end
	targets   []string   // what /proc/PID/fd/N reads for any of them
	// targetsNow adds the pipe of the last run.
	targetsNow []string
}

func newFDLeaks(t *testing.T, e *env) *fdLeaks {
	t.Helper()
	canary := e.mkdir(filepath.Join(e.dir, "caller-canary"))
	e.writeFile(filepath.Join(canary, "host-secret"), "canary\n")
	dir, err := os.Open(canary)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.Open(filepath.Join(canary, "host-secret"))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	l := &fdLeaks{dir: dir, file: file, sock: os.NewFile(uintptr(pair[0]), "sock"),
		other: []*os.File{os.NewFile(uintptr(pair[1]), "sock-peer")}}
	l.targets = []string{canary, filepath.Join(canary, "host-secret"), "socket:[" + inode(t, l.sock) + "]"}
	t.Cleanup(l.close)
	return l
}

func inode(t *testing.T, f *os.File) string {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(st.Ino, 10)
}

func (l *fdLeaks) close() {
	for _, f := range append([]*os.File{l.dir, l.file, l.sock, l.pipeR, l.pipeW}, l.other...) {
		if f != nil {
			f.Close()
		}
	}
}

// run runs paddock with the leaks open at descriptors 3 to 6 (a fresh pipe each time) and checks
// that the pipe reaches end-of-file once paddock has exited: nothing it left running holds it.
func (l *fdLeaks) run(t *testing.T, e *env, dir string, args ...string) result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if l.pipeR != nil {
		l.pipeR.Close()
	}
	l.pipeR, l.pipeW = r, w
	pipeTarget := "pipe:[" + inode(t, w) + "]"
	cmd := e.command(dir, args...)
	cmd.Stdin = nil
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.ExtraFiles = []*os.File{l.dir, l.file, l.sock, w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	l.pipeW = nil
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("paddock %s: timed out\nstderr: %s", strings.Join(args, " "), errb.String())
	}
	res := result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
	// The caller's pipe: end-of-file at once, unless something paddock started holds its end.
	eof := make(chan error, 1)
	go func() {
		var b [64]byte
		_, err := r.Read(b[:])
		eof <- err
	}()
	select {
	case <-eof:
	case <-time.After(10 * time.Second):
		t.Errorf("LEAK: paddock %s: the caller's pipe is still held open after paddock exited (a `$(paddock ...)` would hang)",
			strings.Join(args, " "))
		r.Close() // unblocks the reader
	}
	l.targetsNow = append(append([]string{}, l.targets...), pipeTarget)
	return res
}

// heldBy lists which of the leaks process pid holds.
func (l *fdLeaks) heldBy(pid int) []string {
	var held []string
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, en := range entries {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, en.Name()))
		if err != nil {
			continue
		}
		for _, want := range l.targetsNow {
			if target == want {
				held = append(held, en.Name()+" -> "+target)
			}
		}
	}
	return held
}

// checkHost fails the test when any of pids holds one of the caller's descriptors.
func (l *fdLeaks) checkHost(t *testing.T, what string, pids map[string]int) {
	t.Helper()
	for role, pid := range pids {
		if pid <= 0 {
			t.Errorf("%s: no %s process found", what, role)
			continue
		}
		if held := l.heldBy(pid); len(held) > 0 {
			t.Errorf("LEAK after %s: the %s (pid %d) holds the caller's descriptors: %v", what, role, pid, held)
		}
	}
}

// checkProbe fails the test unless the probe's output says the process held exactly 0, 1 and 2.
func checkProbe(t *testing.T, what string, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: %s", what, r)
	}
	if got := strings.TrimSpace(r.stdout); got != "0 1 2" {
		t.Errorf("ESCAPE: %s: a process in the sandbox holds descriptors %q, want exactly \"0 1 2\"\nstderr: %s", what, got, r.stderr)
	}
}

// TestInheritedDescriptors: run, run -d, exec and start, called with a folder, a file, a socket
// and a pipe open, give the sandbox none of them (its processes hold exactly 0, 1, 2), and leave
// none of them in paddock's processes on the host; on both backends, as root and as an ordinary
// user.
func TestInheritedDescriptors(t *testing.T) {
	for _, backend := range []string{"native", "docker"} {
		for _, m := range []mode{asRoot, asRootless} {
			t.Run(backend+"/"+string(m), func(t *testing.T) {
				e := newEnv(t, m)
				procReap(t, e)
				if backend == "docker" {
					dockerFor(t, e)
				}
				testInheritedDescriptors(t, e, backend)
			})
		}
	}
}

// dockerFor makes e's new sandboxes Docker ones (the test image as the host template's); an
// ordinary user reaches the engine through the docker group, as on a developer's machine.
func dockerFor(t *testing.T, e *env) {
	t.Helper()
	ref := dockertest.Image(t)
	e.extra = append(e.extra, "PADDOCK_BACKEND=docker", "PADDOCK_DOCKER_IMAGE="+ref)
	if e.mode == asRootless {
		g, err := user.LookupGroup("docker")
		if err != nil {
			t.Fatalf("the Docker engine's group: %v", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		e.groups = append(e.groups, uint32(gid))
	}
}

func testInheritedDescriptors(t *testing.T, e *env, backend string) {
	ws := e.workspace("proj")
	l := newFDLeaks(t, e)

	r := l.run(t, e, ws, "run", "-d", "shell")
	if r.code != 0 {
		t.Fatalf("run -d: %s", r)
	}
	name := strings.TrimSpace(r.stdout)
	hostProcs := func(what string) {
		t.Helper()
		st := procInspect(t, e, name)
		pids := map[string]int{}
		if backend == "native" {
			pids["supervisor"], pids["init"] = st.State.SupervisorPID, st.State.InitPID
		} else {
			pids["egress host side"] = serverPid(st.Paths["state"])
		}
		l.checkHost(t, what, pids)
	}
	hostProcs("run -d")

	checkProbe(t, "exec", l.run(t, e, ws, "exec", name, "sh", "-c", fdProbe))
	checkProbe(t, "run (reusing the running sandbox)", l.run(t, e, ws, "run", "shell", "-c", fdProbe))

	// Started again by an attached run, then by start: the new supervisor and init (or host
	// side) are clean too.
	e.ok("", "stop", name)
	checkProbe(t, "run (starting the stopped sandbox)", l.run(t, e, ws, "run", "shell", "-c", fdProbe))
	hostProcs("run")
	e.ok("", "stop", name)
	if r := l.run(t, e, ws, "start", name); r.code != 0 {
		t.Fatalf("start: %s", r)
	}
	hostProcs("start")
	checkProbe(t, "exec after start", e.run("", "exec", name, "sh", "-c", fdProbe))

	// The escape itself, as an attacker inside would try it: the caller's folder at fd 3 of
	// paddock must not be reachable as /proc/self/fd/3 or through any descriptor of any process.
	r = l.run(t, e, ws, "exec", name, "sh", "-c", "cat /proc/self/fd/*/host-secret 2>/dev/null; ls /proc/1/fd/ 2>/dev/null | wc -l >/dev/null; true")
	if strings.Contains(r.stdout, "canary") {
		t.Errorf("ESCAPE: the caller's folder was readable from the sandbox: %s", r)
	}
}
