package cgroups

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/testroot"
)

// Helper modes: the test binary re-executes itself with helperEnv set to one
// of these to act as a child process with a known behaviour.
const (
	helperEnv    = "PADDOCK_CGTEST_HELPER"
	helperMiBEnv = "PADDOCK_CGTEST_MIB"
	helperIDEnv  = "PADDOCK_CGTEST_ID"
	testUser     = "paddock-cgtest"
	mib          = 1 << 20
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the body of a re-executed test binary. "alloc" and "spin"
// first wait for a line on stdin, so the test can move them into a group
// before they start work.
func runHelper(mode string) int {
	switch mode {
	case "alloc":
		waitGate()
		n, _ := strconv.Atoi(os.Getenv(helperMiBEnv))
		var keep [][]byte
		for range n {
			b := make([]byte, mib)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		runtime.KeepAlive(keep)
		fmt.Println("allocated", n, "MiB")
	case "spin":
		waitGate()
		for start := time.Now(); time.Since(start) < time.Second; {
		}
	case "rootless":
		return rootlessHelper()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 2
	}
	return 0
}

func waitGate() {
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "helper: no gate line:", err)
		os.Exit(3)
	}
}

// rootlessReport is what the "rootless" helper prints as JSON.
type rootlessReport struct {
	UID            int         `json:"uid"`
	Probe          Enforcement `json:"probe"`
	MemErr         string      `json:"mem_err"`
	MemUnavailable bool        `json:"mem_unavailable"`
	ZeroDriver     string      `json:"zero_driver"`
	ZeroErr        string      `json:"zero_err"`
	ZeroAddErr     string      `json:"zero_add_err"`
	ZeroRemoveErr  string      `json:"zero_remove_err"`
	OpenNotExist   bool        `json:"open_not_exist"`
}

func rootlessHelper() int {
	id := os.Getenv(helperIDEnv)
	r := rootlessReport{UID: os.Geteuid(), Probe: Probe()}
	if g, err := Create(id, Limits{MemoryBytes: 32 * mib}); err != nil {
		r.MemErr, r.MemUnavailable = err.Error(), errors.Is(err, ErrUnavailable)
	} else {
		r.MemErr = "none; got driver " + g.Enforcement().Driver
		g.Remove()
	}
	if g, err := Create(id, Limits{}); err != nil {
		r.ZeroErr = err.Error()
	} else {
		r.ZeroDriver = g.Enforcement().Driver
		r.ZeroAddErr = errString(g.Add(os.Getpid()))
		r.ZeroRemoveErr = errString(g.Remove())
	}
	_, err := Open(id)
	r.OpenNotExist = errors.Is(err, fs.ErrNotExist)
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// requireRoot stops the test unless it runs as root
// (see internal/testroot).
func requireRoot(t *testing.T) { testroot.Require(t, "real cgroups") }

// newID returns a fresh sandbox id whose group is removed when the test ends.
func newID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	id := "cafe" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if g, err := Open(id); err == nil {
			if err := g.Remove(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return id
}

func mustCreate(t *testing.T, id string, l Limits) *Group {
	t.Helper()
	g, err := Create(id, l)
	if err != nil {
		t.Fatalf("Create(%s, %+v): %v", id, l, err)
	}
	return g
}

// helperCmd runs the test binary in the given helper mode.
func helperCmd(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, env...)...)
	return cmd
}

// startInGroup starts cmd, moves it into g, then lets it go on by writing
// a line to its stdin, so all its work happens inside the group.
func startInGroup(t *testing.T, g *Group, cmd *exec.Cmd) {
	t.Helper()
	gate, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatalf("Add(%d): %v", cmd.Process.Pid, err)
	}
	if _, err := io.WriteString(gate, "go\n"); err != nil {
		t.Fatal(err)
	}
	gate.Close()
}

// gatedSleep is a shell that waits for the gate line, then becomes sleep.
func gatedSleep() *exec.Cmd {
	return exec.Command("sh", "-c", "read _; exec sleep 60")
}

// killedBySIGKILL tells whether a waited-for command died of SIGKILL.
func killedBySIGKILL(cmd *exec.Cmd) bool {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// waitTimeout waits for cmd, failing the test after d.
func waitTimeout(t *testing.T, cmd *exec.Cmd, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%v did not exit within %s", cmd.Args, d)
	}
}

// ctlFile is the path of a control file of the group's controller ctrl.
func ctlFile(t *testing.T, g *Group, ctrl, name string) string {
	t.Helper()
	dir, ok := g.ctl[ctrl]
	if !ok {
		t.Fatalf("group has no %s controller: %+v", ctrl, g.enf)
	}
	return filepath.Join(dir, name)
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestProbeRoot(t *testing.T) {
	requireRoot(t)
	before := existing(Probe().Paths)
	e := Probe()
	t.Logf("Probe() = %+v", e)
	if e.Driver != DriverV1 && e.Driver != DriverV2 {
		t.Fatalf("driver = %q, want v1 or v2 as root (reason: %s)", e.Driver, e.Reason)
	}
	if !e.CPU || !e.Memory || !e.Pids {
		t.Errorf("root cannot enforce everything: %+v", e)
	}
	if (!e.CPU || !e.Memory || !e.Pids) && e.Reason == "" {
		t.Error("something is not enforced but Reason is empty")
	}
	if len(e.Paths) == 0 {
		t.Error("Paths is empty")
	}
	if after := existing(e.Paths); !slices.Equal(before, after) {
		t.Errorf("Probe created directories: before %v, after %v", before, after)
	}
}

func existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if exists(p) {
			out = append(out, p)
		}
	}
	return out
}

// limitFile is a control file and what it should hold.
type limitFile struct {
	ctrl, name string
	want       func(string) bool
	desc       string
}

func equals(s string) (func(string) bool, string) {
	return func(got string) bool { return got == s }, strconv.Quote(s)
}

// v1Unlimited matches v1's "no limit" memory value (PAGE_COUNTER_MAX pages).
func v1Unlimited(got string) bool {
	n, err := strconv.ParseInt(got, 10, 64)
	return err == nil && n >= 1<<62
}

// expectedFiles lists the control files Create should have written for l.
func expectedFiles(g *Group, l Limits) []limitFile {
	var files []limitFile
	add := func(ctrl, name string, f func(string) bool, desc string) {
		files = append(files, limitFile{ctrl, name, f, desc})
	}
	str := func(ctrl, name, s string) { f, d := equals(s); add(ctrl, name, f, d) }
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	if g.v2 {
		if l.CPUs > 0 {
			str("cpu", "cpu.max", fmt.Sprintf("%d 100000", l.cpuQuota()))
		} else {
			str("cpu", "cpu.max", "max 100000")
		}
		if l.MemoryBytes > 0 {
			str("memory", "memory.max", n(l.MemoryBytes))
			if exists(filepath.Join(g.dirs[0], "memory.swap.max")) {
				str("memory", "memory.swap.max", "0")
			}
		} else {
			str("memory", "memory.max", "max")
		}
	} else {
		str("cpu", "cpu.cfs_period_us", "100000")
		if l.CPUs > 0 {
			str("cpu", "cpu.cfs_quota_us", n(l.cpuQuota()))
		} else {
			str("cpu", "cpu.cfs_quota_us", "-1")
		}
		memsw := exists(filepath.Join(g.ctl["memory"], "memory.memsw.limit_in_bytes"))
		if l.MemoryBytes > 0 {
			str("memory", "memory.limit_in_bytes", n(l.MemoryBytes))
			if memsw {
				str("memory", "memory.memsw.limit_in_bytes", n(l.MemoryBytes))
			}
		} else {
			add("memory", "memory.limit_in_bytes", v1Unlimited, "unlimited")
		}
	}
	if l.Pids > 0 {
		str("pids", "pids.max", n(l.Pids))
	} else {
		str("pids", "pids.max", "max")
	}
	return files
}

func TestCreateWritesLimits(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name string
		l    Limits
	}{
		{"all", Limits{CPUs: 1.5, MemoryBytes: 64 * mib, Pids: 64}},
		{"cpu only", Limits{CPUs: 0.5}},
		{"memory only", Limits{MemoryBytes: 48 * mib}},
		{"pids only", Limits{Pids: 16}},
		{"no limits", Limits{}},
	}
	probe := Probe()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newID(t)
			g := mustCreate(t, id, tt.l)
			e := g.Enforcement()
			if e.Driver != probe.Driver || !e.CPU || !e.Memory || !e.Pids {
				t.Errorf("Enforcement() = %+v, want driver %s enforcing everything", e, probe.Driver)
			}
			for _, p := range e.Paths {
				if !strings.HasSuffix(p, "/"+id) || !exists(p) {
					t.Errorf("path %s does not exist or is not named after the id", p)
				}
			}
			for _, f := range expectedFiles(g, tt.l) {
				if got := readTrim(t, ctlFile(t, g, f.ctrl, f.name)); !f.want(got) {
					t.Errorf("%s = %q, want %s", f.name, got, f.desc)
				}
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	requireRoot(t)
	id := newID(t)
	g := mustCreate(t, id, Limits{CPUs: 1, MemoryBytes: 128 * mib, Pids: 32})
	cmd := gatedSleep()
	startInGroup(t, g, cmd)
	pid := cmd.Process.Pid

	procs, err := g.Procs()
	if err != nil || !slices.Contains(procs, pid) {
		t.Fatalf("Procs() = %v, %v; want it to hold %d", procs, err, pid)
	}
	var s Stats
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s, err = g.Stats(); err != nil {
			t.Fatalf("Stats(): %v", err)
		}
		if s.MemoryBytes > 0 {
			break
		}
	}
	if s.MemoryBytes <= 0 || s.Pids < 1 || s.CPUUsec < 0 {
		t.Errorf("Stats() = %+v, want memory > 0 and pids >= 1", s)
	}
	if n, err := g.OOMKills(); err != nil || n != 0 {
		t.Errorf("OOMKills() = %d, %v; want 0", n, err)
	}

	opened, err := Open(id)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	if got, want := opened.Enforcement(), g.Enforcement(); !slices.Equal(got.Paths, want.Paths) ||
		got.Driver != want.Driver || got.CPU != want.CPU || got.Memory != want.Memory || got.Pids != want.Pids {
		t.Errorf("Open().Enforcement() = %+v, want %+v", got, want)
	}
	if p, err := opened.Procs(); err != nil || !slices.Equal(p, procs) {
		t.Errorf("opened Procs() = %v, %v; want %v", p, err, procs)
	}

	if err := opened.Remove(); err != nil {
		t.Fatalf("Remove(): %v", err)
	}
	waitTimeout(t, cmd, 5*time.Second)
	if !killedBySIGKILL(cmd) {
		t.Errorf("sleep ended with %v, want SIGKILL", cmd.ProcessState)
	}
	for _, p := range g.Enforcement().Paths {
		if exists(p) {
			t.Errorf("%s still exists after Remove", p)
		}
	}
	if err := g.Remove(); err != nil {
		t.Errorf("second Remove(): %v, want nil", err)
	}
	if _, err := Open(id); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after Remove = %v, want fs.ErrNotExist", err)
	}
}

func TestKillManyProcesses(t *testing.T) {
	requireRoot(t)
	g := mustCreate(t, newID(t), Limits{})
	cmd := exec.Command("sh", "-c", "read _; for i in 1 2 3 4 5; do sleep 60 & done; exec sleep 60")
	startInGroup(t, g, cmd)
	waitForProcs(t, g, 6)
	if err := g.Kill(); err != nil {
		t.Fatalf("Kill(): %v", err)
	}
	if p, err := g.Procs(); err != nil || len(p) != 0 {
		t.Errorf("Procs() after Kill = %v, %v; want none", p, err)
	}
	for _, p := range g.Enforcement().Paths {
		if !exists(p) {
			t.Errorf("Kill removed %s; only Remove should", p)
		}
	}
}

// waitForProcs waits until g holds at least n processes.
func waitForProcs(t *testing.T, g *Group, n int) []int {
	t.Helper()
	var procs []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if procs, err = g.Procs(); err != nil {
			t.Fatal(err)
		}
		if len(procs) >= n {
			return procs
		}
	}
	t.Fatalf("group holds %v, want at least %d processes", procs, n)
	return nil
}

func TestMemoryLimit(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name       string
		limit      int64
		allocMiB   int
		wantKilled bool
	}{
		{"over the limit is OOM-killed", 32 * mib, 256, true},
		{"under the limit survives", 256 * mib, 32, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCreate(t, newID(t), Limits{MemoryBytes: tt.limit})
			cmd := helperCmd(t, "alloc", fmt.Sprintf("%s=%d", helperMiBEnv, tt.allocMiB))
			var out bytes.Buffer
			cmd.Stdout = &out
			startInGroup(t, g, cmd)
			waitTimeout(t, cmd, 30*time.Second)
			if killed := killedBySIGKILL(cmd); killed != tt.wantKilled {
				t.Errorf("helper ended with %v (output %q), want killed=%v", cmd.ProcessState, out.String(), tt.wantKilled)
			}
			n, err := g.OOMKills()
			if err != nil {
				t.Fatalf("OOMKills(): %v", err)
			}
			if (n > 0) != tt.wantKilled {
				t.Errorf("OOMKills() = %d, want > 0: %v", n, tt.wantKilled)
			}
		})
	}
}

func TestPidsLimit(t *testing.T) {
	requireRoot(t)
	const tries = 20
	tests := []struct {
		name     string
		pids     int64
		wantFail bool
	}{
		{"limit 8 stops forks", 8, true},
		{"limit 64 lets all start", 64, false},
	}
	// The shell prints a line per started sleep. dash and bash give up on the
	// first fork that fails, so the kernel's count of refused forks
	// (pids.events "max") is the failure count.
	script := fmt.Sprintf(`read _; i=0; while [ $i -lt %d ]; do sleep 60 >/dev/null 2>&1 & echo started; i=$((i+1)); done`, tries)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCreate(t, newID(t), Limits{Pids: tt.pids})
			cmd := exec.Command("sh", "-c", script)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			startInGroup(t, g, cmd)
			waitTimeout(t, cmd, 60*time.Second)
			started := strings.Count(stdout.String(), "started")
			failed, err := readKey(ctlFile(t, g, "pids", "pids.events"), "max")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("started %d of %d sleeps, %d forks refused; shell said %q", started, tries, failed, stderr.String())
			if tt.wantFail {
				if started > int(tt.pids)-1 || failed < 1 || !strings.Contains(strings.ToLower(stderr.String()), "fork") {
					t.Errorf("with pids.max %d: started %d (want <= %d), refused forks %d (want >= 1)",
						tt.pids, started, tt.pids-1, failed)
				}
			} else if started != tries || failed != 0 {
				t.Errorf("with pids.max %d: started %d (want %d), refused forks %d (want 0)", tt.pids, started, tries, failed)
			}
			if s, err := g.Stats(); err != nil || s.Pids != int64(started) {
				t.Errorf("Stats() = %+v, %v; want pids %d (the sleeps left)", s, err, started)
			}
			if err := g.Remove(); err != nil {
				t.Fatalf("Remove(): %v", err)
			}
		})
	}
}

func TestCPULimit(t *testing.T) {
	requireRoot(t)
	// A 1 s busy loop under a 0.2 CPU quota uses at most ~0.2 s and is throttled; without a
	// limit it is never throttled. How much CPU the unlimited loop gets depends on how busy the
	// machine is, so that case asserts only the absence of throttling (and some progress).
	tests := []struct {
		name             string
		cpus             float64
		minUsec, maxUsec int64
		throttled        bool
	}{
		{"0.2 CPUs", 0.2, 20_000, 350_000, true},
		{"no limit", 0, 20_000, 2_000_000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustCreate(t, newID(t), Limits{CPUs: tt.cpus})
			cmd := helperCmd(t, "spin")
			startInGroup(t, g, cmd)
			waitTimeout(t, cmd, 30*time.Second)
			if !cmd.ProcessState.Success() {
				t.Fatalf("spin helper failed: %v", cmd.ProcessState)
			}
			s, err := g.Stats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("1s busy loop used %d µs of CPU", s.CPUUsec)
			if s.CPUUsec < tt.minUsec || s.CPUUsec > tt.maxUsec {
				t.Errorf("CPU used = %d µs, want %d..%d", s.CPUUsec, tt.minUsec, tt.maxUsec)
			}
			var throttled int64 = -1
			for _, line := range strings.Split(readTrim(t, ctlFile(t, g, "cpu", "cpu.stat")), "\n") {
				if v, ok := strings.CutPrefix(line, "nr_throttled "); ok {
					throttled, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			if throttled < 0 {
				t.Fatal("cpu.stat has no nr_throttled")
			}
			if (throttled > 0) != tt.throttled {
				t.Errorf("nr_throttled = %d, want throttled=%v", throttled, tt.throttled)
			}
		})
	}
}

func TestStaleGroupCleanup(t *testing.T) {
	requireRoot(t)
	id := newID(t)
	old := mustCreate(t, id, Limits{MemoryBytes: 64 * mib})
	leftover := gatedSleep()
	startInGroup(t, old, leftover)
	waitForProcs(t, old, 1)

	// A crashed supervisor never calls Remove; the next Create must cope.
	g := mustCreate(t, id, Limits{MemoryBytes: 96 * mib, Pids: 16})
	waitTimeout(t, leftover, 5*time.Second)
	if !killedBySIGKILL(leftover) {
		t.Errorf("leftover process ended with %v, want SIGKILL", leftover.ProcessState)
	}
	if p, err := g.Procs(); err != nil || len(p) != 0 {
		t.Errorf("new group Procs() = %v, %v; want empty", p, err)
	}
	memFile := "memory.limit_in_bytes"
	if g.v2 {
		memFile = "memory.max"
	}
	if got := readTrim(t, ctlFile(t, g, "memory", memFile)); got != strconv.Itoa(96*mib) {
		t.Errorf("memory limit of the new group = %s, want %d", got, 96*mib)
	}
}

func TestOpenMissing(t *testing.T) {
	requireRoot(t)
	if _, err := Open(newID(t)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of an unknown id = %v, want fs.ErrNotExist", err)
	}
	for _, bad := range []string{"../../etc", "", "zz"} {
		if _, err := Create(bad, Limits{}); err == nil {
			t.Errorf("Create(%q) succeeded, want an error", bad)
		}
		if _, err := Open(bad); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want an invalid-id error", bad, err)
		}
	}
}

// TestRootless runs Probe and Create as an unprivileged user. On this
// project's CI host (cgroup v1/hybrid) nothing can be enforced rootless.
func TestRootless(t *testing.T) {
	requireRoot(t)
	uid, gid := ensureTestUser(t)
	exe := copyTestBinary(t)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Dir = filepath.Dir(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=rootless", helperIDEnv+"="+newID(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rootless helper: %v\nstderr: %s", err, stderr.String())
	}
	var r rootlessReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("rootless helper output %q: %v", out, err)
	}
	t.Logf("rootless report: %+v", r)
	if r.UID != int(uid) {
		t.Fatalf("helper ran as uid %d, want %d", r.UID, uid)
	}
	if r.Probe.Driver != DriverNone || r.Probe.Reason == "" || r.Probe.CPU || r.Probe.Memory || r.Probe.Pids {
		t.Errorf("rootless Probe() = %+v, want driver none with a reason", r.Probe)
	}
	if !r.MemUnavailable {
		t.Errorf("rootless Create with a memory limit: err %q, want one wrapping ErrUnavailable", r.MemErr)
	}
	if r.ZeroErr != "" || r.ZeroDriver != DriverNone || r.ZeroAddErr != "" || r.ZeroRemoveErr != "" {
		t.Errorf("rootless Create without limits: driver %q err %q, Add err %q, Remove err %q; want driver none and no errors",
			r.ZeroDriver, r.ZeroErr, r.ZeroAddErr, r.ZeroRemoveErr)
	}
	if !r.OpenNotExist {
		t.Error("rootless Open did not report fs.ErrNotExist")
	}
}

// ensureTestUser returns the ids of testUser, creating it if needed.
func ensureTestUser(t *testing.T) (uint32, uint32) {
	t.Helper()
	u, err := user.Lookup(testUser)
	if errors.As(err, new(user.UnknownUserError)) {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", testUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v: %s", testUser, err, out)
		}
		u, err = user.Lookup(testUser)
	}
	if err != nil {
		t.Fatalf("look up %s: %v", testUser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil || uid == 0 {
		t.Fatalf("bad ids for %s: %s/%s: %v", testUser, u.Uid, u.Gid, err)
	}
	return uint32(uid), uint32(gid)
}

// copyTestBinary copies the test binary where an unprivileged user can run
// it (go test builds it in a private directory).
func copyTestBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "paddock-cgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "cgroups.test")
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestV2Mechanics drives the cgroup v2 code (making the group, moving a
// process in, listing, CPU usage from cpu.stat, cgroup.kill, removal) on the
// host's cgroup2 mount even when, as on a hybrid host, that offers none of
// the cpu, memory or pids controllers: those parts need no controller.
func TestV2Mechanics(t *testing.T) {
	requireRoot(t)
	lay, err := readLayout()
	if err != nil {
		t.Fatal(err)
	}
	if lay.v2 == nil {
		t.Skip("no cgroup2 filesystem is mounted on this host")
	}
	id := newID(t)
	p := plan{enf: Enforcement{Driver: DriverV2}, v2Top: lay.v2.dir, tops: []string{lay.v2.dir}}
	slice := filepath.Join(lay.v2.dir, v2Slice)
	if !exists(slice) {
		t.Cleanup(func() { os.Remove(slice) }) // only if empty: never touch other groups
	}
	t.Cleanup(func() {
		if g, ok := p.existing(id); ok {
			if err := g.Remove(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	g, err := p.make(id)
	if err != nil {
		t.Fatalf("make: %v", err)
	}
	dir := filepath.Join(lay.v2.dir, v2Slice, id)
	if e := g.Enforcement(); e.Driver != DriverV2 || !slices.Equal(e.Paths, []string{dir}) {
		t.Fatalf("Enforcement() = %+v, want v2 at %s", e, dir)
	}
	if err := g.apply(Limits{}); err != nil {
		t.Fatalf("apply(no limits): %v", err)
	}

	spin := helperCmd(t, "spin")
	startInGroup(t, g, spin)
	sleeper := gatedSleep()
	startInGroup(t, g, sleeper)
	procs := waitForProcs(t, g, 2)
	if !slices.Contains(procs, spin.Process.Pid) || !slices.Contains(procs, sleeper.Process.Pid) {
		t.Errorf("Procs() = %v, want %d and %d", procs, spin.Process.Pid, sleeper.Process.Pid)
	}
	waitTimeout(t, spin, 30*time.Second)
	// How much CPU the loop gets depends on how busy the machine is: some is enough to show the
	// figure comes from cpu.stat.
	if s, err := g.Stats(); err != nil || s.CPUUsec < 5_000 {
		t.Errorf("Stats() = %+v, %v; want the 1s busy loop's CPU time from cpu.stat", s, err)
	}
	if _, err := g.OOMKills(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("OOMKills() without a memory controller = %v, want ErrUnavailable", err)
	}
	opened, ok := p.existing(id)
	if !ok {
		t.Fatal("existing() did not find the group")
	}
	if err := opened.Remove(); err != nil {
		t.Fatalf("Remove(): %v", err)
	}
	waitTimeout(t, sleeper, 5*time.Second)
	if !killedBySIGKILL(sleeper) {
		t.Errorf("sleep ended with %v, want SIGKILL", sleeper.ProcessState)
	}
	if exists(dir) {
		t.Errorf("%s still exists after Remove", dir)
	}
}
