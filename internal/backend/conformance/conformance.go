//go:build unix

// Package conformance is the shared test suite every backend.Backend must pass: a backend's own
// test is a few lines that hand the suite a way to make the backend.
package conformance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/hostpath"
)

// Harness describes the backend under test.
type Harness struct {
	// New returns the backend.
	New func(t *testing.T) backend.Backend
	// Root is a folder the backend may use for sandbox state and workspaces; it must be
	// reachable by the sandbox's user (not a private t.TempDir() of another user).
	Root func(t *testing.T) string
	// Prepare, when set, adjusts each case's sandbox before it starts (the template, say).
	Prepare func(t *testing.T, sb *backend.Sandbox)
}

// Run runs every conformance case against the backend.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"ExecExitCodeAndOutput", testExec},
		{"SpecEnvAndWorkdir", testEnv},
		{"WorkspaceReadWrite", testWorkspace},
		{"ReadOnlyVolume", testReadOnly},
		{"PersistsAcrossStopStart", testPersist},
		{"StopEndsProcesses", testStop},
		{"ExecWhenStopped", testExecStopped},
		{"RemoveKeepsWorkspace", testRemove},
		{"NoNetworkButLoopback", testNoNetwork},
		{"Hostname", testHostname},
		{"StartReusesRunning", testReuse},
		{"GitIdentity", testGitIdentity},
		{"LimitsEnforced", testLimits},
		{"ManagedVolume", testVolume},
		{"RecordedSourceNotFollowed", testRecordedSource},
		{"ExecCancelEndsProcess", testExecCancel},
		{"ExecClosedOutputEnds", testExecClosedOutput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSuite(t, h)
			c.fn(t, s)
		})
	}
}

type suite struct {
	t   *testing.T
	b   backend.Backend
	sb  *backend.Sandbox
	ws  string
	ctx context.Context
}

func newSuite(t *testing.T, h Harness) *suite {
	root := h.Root(t)
	ws := filepath.Join(root, "workspace")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := "conf-" + strings.ToLower(strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], "_", "-"))
	if len(name) > 40 {
		name = name[:40]
	}
	s := &suite{t: t, b: h.New(t), ws: ws, ctx: context.Background(), sb: &backend.Sandbox{
		ID:   strings.Repeat("c0ffee", 10) + "abcd",
		Name: name, Dir: dir,
		Spec: backend.Spec{Template: "host", Hostname: name, Workdir: ws,
			Mounts: []backend.Mount{{Kind: backend.KindWorkspace, Source: ws, Target: ws}}},
	}}
	if h.Prepare != nil {
		h.Prepare(t, s.sb)
	}
	t.Cleanup(func() {
		s.b.Stop(context.Background(), s.sb, 2*time.Second)
		s.b.Remove(context.Background(), s.sb)
	})
	return s
}

func (s *suite) start() {
	s.t.Helper()
	if err := s.b.Start(s.ctx, s.sb); err != nil {
		s.t.Fatalf("Start: %v", err)
	}
	st, err := s.b.State(s.ctx, s.sb)
	if err != nil || st.Status != "running" {
		s.t.Fatalf("after Start: state %+v, %v", st, err)
	}
}

// exec runs argv and returns its exit code, stdout and stderr.
func (s *suite) exec(argv ...string) (int, string, string) {
	s.t.Helper()
	out, err := os.CreateTemp(s.t.TempDir(), "out")
	if err != nil {
		s.t.Fatal(err)
	}
	defer out.Close()
	errf, _ := os.CreateTemp(s.t.TempDir(), "err")
	defer errf.Close()
	in, _ := os.Open(os.DevNull)
	defer in.Close()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	code, err := s.b.Exec(ctx, s.sb, backend.ExecRequest{Argv: argv, Dir: s.ws}, backend.ExecIO{Stdin: in, Stdout: out, Stderr: errf})
	if err != nil {
		s.t.Fatalf("Exec %q: %v", argv, err)
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

func (s *suite) sh(script string) string {
	s.t.Helper()
	code, out, errs := s.exec("/bin/sh", "-c", script)
	if code != 0 {
		s.t.Fatalf("sh -c %q: exit %d, stderr %s", script, code, errs)
	}
	return strings.TrimSpace(out)
}

func testExec(t *testing.T, s *suite) {
	s.start()
	code, out, errs := s.exec("/bin/sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || errs != "err\n" {
		t.Fatalf("got exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, _ := s.exec("/bin/sh", "-c", "kill -9 $$"); code != 137 {
		t.Fatalf("killed by SIGKILL: exit %d, want 137", code)
	}
}

func testEnv(t *testing.T, s *suite) {
	s.sb.Spec.Env = []string{"PADDOCK_CONF=yes", "HOME=/root"}
	s.start()
	if got := s.sh(`echo "$PADDOCK_CONF $(pwd)"`); got != "yes "+s.ws {
		t.Fatalf("got %q", got)
	}
}

func testWorkspace(t *testing.T, s *suite) {
	os.WriteFile(filepath.Join(s.ws, "from-host"), []byte("hello"), 0o644)
	s.start()
	if got := s.sh("cat from-host && echo inside > from-sandbox"); got != "hello" {
		t.Fatalf("got %q", got)
	}
	b, err := os.ReadFile(filepath.Join(s.ws, "from-sandbox"))
	if err != nil || string(b) != "inside\n" {
		t.Fatalf("host sees %q, %v", b, err)
	}
	var st1, st2 os.FileInfo
	st1, _ = os.Stat(filepath.Join(s.ws, "from-sandbox"))
	st2, _ = os.Stat(s.ws)
	if ownerOf(st1) != ownerOf(st2) {
		t.Fatalf("file made inside is owned by %d, the workspace by %d", ownerOf(st1), ownerOf(st2))
	}
}

func testReadOnly(t *testing.T, s *suite) {
	ro := filepath.Join(filepath.Dir(s.ws), "ro")
	os.MkdirAll(ro, 0o755)
	os.WriteFile(filepath.Join(ro, "f"), []byte("data"), 0o644)
	s.sb.Spec.Mounts = append(s.sb.Spec.Mounts, backend.Mount{Kind: backend.KindBind, Source: ro, Target: "/mnt/ro", ReadOnly: true})
	s.start()
	if got := s.sh("cat /mnt/ro/f"); got != "data" {
		t.Fatalf("got %q", got)
	}
	if code, _, _ := s.exec("/bin/sh", "-c", "echo x > /mnt/ro/f"); code == 0 {
		t.Fatal("wrote to a read-only mount")
	}
}

func testPersist(t *testing.T, s *suite) {
	s.start()
	s.sh("echo h > ~/marker && echo t > /tmp/marker && echo v > /var/tmp/marker")
	if err := s.b.Stop(s.ctx, s.sb, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s.start()
	if got := s.sh("cat ~/marker /tmp/marker /var/tmp/marker | tr -d '\\n'"); got != "htv" {
		t.Fatalf("after stop/start: %q", got)
	}
}

func testStop(t *testing.T, s *suite) {
	s.start()
	s.sh("sleep 1000 >/dev/null 2>&1 &")
	st, _ := s.b.State(s.ctx, s.sb)
	if err := s.b.Stop(s.ctx, s.sb, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	after, _ := s.b.State(s.ctx, s.sb)
	if after.Status == "running" {
		t.Fatal("still running after Stop")
	}
	time.Sleep(100 * time.Millisecond)
	for _, pid := range st.Pids {
		if _, err := os.Stat(filepath.Join("/proc", itoa(pid))); err == nil {
			if b, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "stat")); !strings.Contains(string(b), ") Z") {
				t.Errorf("process %d of the sandbox survived Stop", pid)
			}
		}
	}
}

func testExecStopped(t *testing.T, s *suite) {
	in, _ := os.Open(os.DevNull)
	defer in.Close()
	_, err := s.b.Exec(s.ctx, s.sb, backend.ExecRequest{Argv: []string{"true"}}, backend.ExecIO{Stdin: in, Stdout: os.Stdout, Stderr: os.Stderr})
	if !errors.Is(err, backend.ErrNotRunning) {
		t.Fatalf("Exec on a stopped sandbox: %v, want ErrNotRunning", err)
	}
}

func testRemove(t *testing.T, s *suite) {
	os.WriteFile(filepath.Join(s.ws, "keep"), []byte("mine"), 0o644)
	s.start()
	s.sh("echo more > keep2")
	if err := s.b.Remove(s.ctx, s.sb); err == nil {
		t.Fatal("Remove of a running sandbox succeeded")
	}
	s.b.Stop(s.ctx, s.sb, 5*time.Second)
	if err := s.b.Remove(s.ctx, s.sb); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.sb.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state folder still there: %v", err)
	}
	for _, f := range []string{"keep", "keep2"} {
		if _, err := os.Stat(filepath.Join(s.ws, f)); err != nil {
			t.Fatalf("workspace file %s lost: %v", f, err)
		}
	}
}

func testNoNetwork(t *testing.T, s *suite) {
	s.start()
	if got := s.sh("ls /sys/class/net | tr '\\n' ' '"); got != "lo" {
		t.Fatalf("interfaces: %q, want only lo", got)
	}
}

func testHostname(t *testing.T, s *suite) {
	s.start()
	if got := s.sh("hostname"); got != s.sb.Spec.Hostname {
		t.Fatalf("hostname %q, want %q", got, s.sb.Spec.Hostname)
	}
}

func testReuse(t *testing.T, s *suite) {
	s.start()
	s.sh("echo 1 > /tmp/reuse")
	st1, _ := s.b.State(s.ctx, s.sb)
	s.start() // already running: nothing to do
	st2, _ := s.b.State(s.ctx, s.sb)
	if st1.InitPID != st2.InitPID || st1.StartedAt != st2.StartedAt {
		t.Fatalf("Start of a running sandbox restarted it: %+v -> %+v", st1, st2)
	}
	if got := s.sh("cat /tmp/reuse"); got != "1" {
		t.Fatalf("got %q", got)
	}
}

func testGitIdentity(t *testing.T, s *suite) {
	s.sb.Spec.GitName, s.sb.Spec.GitEmail = "Conformance Tester", "tester@example.invalid"
	s.start()
	got := s.sh("git var GIT_AUTHOR_IDENT; git var GIT_COMMITTER_IDENT")
	for _, l := range strings.Split(got, "\n") {
		if !strings.HasPrefix(l, "Conformance Tester <tester@example.invalid>") {
			t.Fatalf("git identity inside: %q", got)
		}
	}
}

func testLimits(t *testing.T, s *suite) {
	s.sb.Spec.Limits = backend.Limits{CPUs: 0.5, MemoryBytes: 256 << 20, Pids: 64}
	s.start()
	st, err := s.b.State(s.ctx, s.sb)
	if err != nil {
		t.Fatal(err)
	}
	e := st.Enforced
	if e == nil || !e.Memory || e.MemoryBytes != 256<<20 || !e.Pids || e.PidsMax != 64 {
		t.Fatalf("enforced: %+v", e)
	}
	if e.Driver != "none" && (!e.CPU || e.CPUs != 0.5) {
		t.Fatalf("enforced CPU: %+v", e)
	}
	// The process limit holds: of 100 sleeping children, fewer than 64 start.
	// The count is a glob (no fork) and the children are killed before the shell ends.
	_, out, _ := s.exec("/bin/sh", "-c", "(i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; set -- /proc/[0-9]*; echo $#; kill -9 -1")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || n > 64 || n < 10 {
		t.Fatalf("%d processes inside with a limit of 64 (%v)", n, err)
	}
}

func testVolume(t *testing.T, s *suite) {
	vol := filepath.Join(filepath.Dir(s.ws), "vol")
	os.MkdirAll(vol, 0o755)
	s.sb.Spec.Mounts = append(s.sb.Spec.Mounts, backend.Mount{Kind: backend.KindVolume, Source: vol, Target: "/paddock/volume"})
	s.start()
	s.sh("echo kept > /paddock/volume/state")
	s.b.Stop(s.ctx, s.sb, 5*time.Second)
	s.b.Remove(s.ctx, s.sb)
	if b, err := os.ReadFile(filepath.Join(vol, "state")); err != nil || string(b) != "kept\n" {
		t.Fatalf("volume content after rm: %q, %v", b, err)
	}
}

// testRecordedSource: a folder recorded with its identity is refused by the backend itself (the
// manager checks first, but a swap can come between) when a symlink is on its path or another
// folder stands at it.
func testRecordedSource(t *testing.T, s *suite) {
	root := filepath.Dir(s.ws)
	data := filepath.Join(root, "data")
	os.MkdirAll(data, 0o755)
	id, err := hostpath.Identify(data)
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(root, filepath.Join(root, "link"))
	base := s.sb.Spec.Mounts
	for _, tc := range []struct {
		name, source string
		swap         func()
	}{
		{"symlink on the way", filepath.Join(root, "link", "data"), func() {}},
		{"another folder at the path", data, func() {
			os.Rename(data, data+".old")
			os.Mkdir(data, 0o755)
		}},
	} {
		tc.swap()
		s.sb.Spec.Mounts = append(append([]backend.Mount{}, base...), backend.Mount{Kind: backend.KindBind, Source: tc.source, Target: "/mnt/data", ID: id})
		if err := s.b.Start(s.ctx, s.sb); err == nil {
			t.Errorf("%s: started", tc.name)
			s.b.Stop(s.ctx, s.sb, 2*time.Second)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func ownerOf(fi os.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}
