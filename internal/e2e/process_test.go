package e2e

// Process behaviour of sandboxes: the terminal (PTY, raw mode, resize, Ctrl-C, exit codes, restoring
// the user's terminal), plain pipes (separate streams, streamed stdin, large output), concurrency,
// crashes of the supervisor, the init and the CLI, zombie reaping, stop, and idle memory.
//
// Every helper in this file is prefixed with "proc" so that it cannot clash with other test files
// of the package.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ---------------------------------------------------------------------------------------------
// helpers

// procRun runs paddock like e.runInput but never calls t.Fatal, so it can be used from several
// goroutines at once. It kills paddock after timeout.
func procRun(e *env, dir, stdin string, timeout time.Duration, args ...string) (result, error) {
	cmd := e.command(dir, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return result{stdout: out.String(), stderr: errb.String(), code: -1},
			fmt.Errorf("paddock %s: timed out after %s", strings.Join(args, " "), timeout)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}, nil
}

// procLsEntry is one sandbox of `ls -a --json`.
type procLsEntry struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Workspace string `json:"workspace"`
	Status    string `json:"status"`
}

// procLs lists every sandbox; `ls -a --json` must always succeed and warn about nothing.
func procLs(t *testing.T, e *env) []procLsEntry {
	t.Helper()
	r := e.run("", "ls", "-a", "--json")
	if r.code != 0 || strings.TrimSpace(r.stderr) != "" {
		t.Fatalf("ls -a --json must succeed quietly: %s", r)
	}
	var out []procLsEntry
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("ls -a --json printed no JSON array: %v\n%s", err, r.stdout)
	}
	return out
}

func procStatus(t *testing.T, e *env, name string) string {
	t.Helper()
	for _, s := range procLs(t, e) {
		if s.Name == name {
			return s.Status
		}
	}
	t.Fatalf("sandbox %s is not listed by ls -a", name)
	return ""
}

// procState is the part of `inspect` these tests read.
type procState struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State struct {
		Status        string `json:"status"`
		SupervisorPID int    `json:"supervisor_pid"`
		InitPID       int    `json:"init_pid"`
		Pids          []int  `json:"pids"`
		MemoryBytes   int64  `json:"memory_bytes"`
	} `json:"state"`
	Paths map[string]string `json:"paths"`
}

func procInspect(t *testing.T, e *env, name string) procState {
	t.Helper()
	out := e.ok("", "inspect", name)
	var v []procState
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect %s: want a JSON array of one sandbox, got (%v):\n%s", name, err, out)
	}
	return v[0]
}

// procRunning inspects a sandbox that must be running and have its supervisor and init pids.
func procRunning(t *testing.T, e *env, name string) procState {
	t.Helper()
	st := procInspect(t, e, name)
	if st.State.Status != "running" || st.State.SupervisorPID <= 0 || st.State.InitPID <= 0 {
		t.Fatalf("sandbox %s: want running with supervisor_pid and init_pid, got %+v", name, st.State)
	}
	return st
}

// procStat reads a host process's state letter and start time (clock ticks since boot).
func procStat(pid int) (state byte, start uint64, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return 0, 0, false
	}
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, true
}

// procIdentity pins a pid to the process that has it now, so a recycled pid is not mistaken for it.
type procIdentity struct {
	pid   int
	start uint64
}

func procIdentify(pid int) (procIdentity, bool) {
	_, start, ok := procStat(pid)
	return procIdentity{pid, start}, ok
}

// alive reports whether the process still exists and is not a zombie (a zombie runs nothing and
// holds nothing but its pid until its parent, possibly the host's init, collects it).
func (p procIdentity) alive() bool {
	state, start, ok := procStat(p.pid)
	return ok && start == p.start && state != 'Z' && state != 'X'
}

func (p procIdentity) String() string {
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
	state, _, _ := procStat(p.pid)
	return fmt.Sprintf("pid %d (%q, state %c)", p.pid, strings.ReplaceAll(string(cmdline), "\x00", " "), state)
}

// procWait polls cond every 10ms until it holds or timeout passes; it reports whether it held.
func procWait(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procKill sends SIGKILL to a host process.
func procKill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// procSupervisors lists the live supervisor processes on the host that serve the state folder dir.
func procSupervisors(dir string) []procIdentity {
	var out []procIdentity
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) >= 3 && args[1] == "__supervise" && filepath.Clean(args[2]) == filepath.Clean(dir) {
			if id, ok := procIdentify(pid); ok && id.alive() {
				out = append(out, id)
			}
		}
	}
	return out
}

// procReap registers a cleanup that removes every sandbox of the env and then kills any
// supervisor of the env that is still alive (one that paddock lost track of), so that a failing
// test leaks no processes onto the host. It runs before the harness's own cleanup.
func procReap(t *testing.T, e *env) {
	t.Cleanup(func() {
		procRun(e, "", "", 60*time.Second, "rm", "-f", "--all")
		for _, p := range procSupervisorsUnder(e.phome) {
			t.Logf("cleanup: killing leftover %s", p)
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
	})
}

// procSupervisorsUnder lists the live supervisors of every sandbox of the PADDOCK_HOME phome,
// including sandboxes whose folder is gone.
func procSupervisorsUnder(phome string) []procIdentity {
	var out []procIdentity
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		args := strings.Split(string(b), "\x00")
		if len(args) >= 3 && args[1] == "__supervise" && strings.HasPrefix(args[2], phome+"/") {
			if id, ok := procIdentify(pid); ok && id.alive() {
				out = append(out, id)
			}
		}
	}
	return out
}

// procDetach starts the sandbox for ws without attaching and returns its name.
func procDetach(t *testing.T, e *env, ws string) string {
	t.Helper()
	name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
	if name == "" {
		t.Fatal("run -d printed no sandbox name")
	}
	return name
}

// ---------------------------------------------------------------------------------------------
// a real pseudo-terminal

// procPTY is paddock running on a pseudo-terminal that the test holds both ends of: the master to
// type and read, the slave to look at the terminal settings paddock leaves behind.
type procPTY struct {
	t       *testing.T
	cmd     *exec.Cmd
	master  *os.File
	slave   *os.File
	done    chan struct{} // closed when paddock has exited
	readEnd chan struct{}

	mu   sync.Mutex
	raw  []byte
	mark int // offset in the cleaned output from which expect searches
}

// procStartPTY starts paddock with a terminal of rows x cols on stdin, stdout and stderr, in a new
// session with that terminal as its controlling terminal: what pty.Start does, except that the
// test keeps the slave open to read its termios before and after.
func procStartPTY(t *testing.T, e *env, dir string, rows, cols uint16, args ...string) *procPTY {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	cmd := e.command(dir, args...)
	cmd.Env = append(cmd.Env, "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	p := &procPTY{t: t, cmd: cmd, master: master, slave: slave, done: make(chan struct{}), readEnd: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		master.Close()
		slave.Close()
		t.Fatalf("starting paddock on a terminal: %v", err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	go func() {
		defer close(p.readEnd)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				p.mu.Lock()
				p.raw = append(p.raw, buf[:n]...)
				p.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		slave.Close()
		master.Close()
		select {
		case <-p.readEnd:
		case <-time.After(2 * time.Second):
		}
	})
	return p
}

var procANSI = regexp.MustCompile(`\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r`)

// output is what the terminal showed, without escape sequences and carriage returns.
func (p *procPTY) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return procANSI.ReplaceAllString(string(p.raw), "")
}

// expect waits until the output after the last match matches re and returns the match.
func (p *procPTY) expect(re *regexp.Regexp, timeout time.Duration, what string) []string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := p.output()
		if p.mark <= len(out) {
			if loc := re.FindStringSubmatchIndex(out[p.mark:]); loc != nil {
				m := re.FindStringSubmatch(out[p.mark:])
				p.mark += loc[1]
				return m
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %q did not appear on the terminal within %s; the terminal shows:\n%s", what, re, timeout, procTail(out, 1500))
		}
		select {
		case <-p.done:
			// Give the reader a moment to collect the last output before failing.
			if time.Now().Add(300 * time.Millisecond).Before(deadline) {
				deadline = time.Now().Add(300 * time.Millisecond)
			}
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// skip moves the search start to the end of what has been shown so far.
func (p *procPTY) skip() { p.mark = len(p.output()) }

func (p *procPTY) send(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatalf("typing %q: %v", s, err)
	}
}

func (p *procPTY) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for paddock to exit and returns its exit code.
func (p *procPTY) wait(timeout time.Duration, what string) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("%s: paddock did not exit within %s; the terminal shows:\n%s", what, timeout, procTail(p.output(), 1500))
	}
	return -1
}

func (p *procPTY) termios() *unix.Termios {
	p.t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatalf("reading the terminal settings: %v", err)
	}
	return tio
}

func procTail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// procPrompt is a shell prompt at the very end of the output.
var procPrompt = regexp.MustCompile(`[#$] $`)

// ---------------------------------------------------------------------------------------------
// PTY

// TestProcessPTYShell drives an interactive `paddock run shell` on a real pseudo-terminal.
func TestProcessPTYShell(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("ptyproj")
		p := procStartPTY(t, e, ws, 24, 80, "run", "shell")
		before := p.termios()
		if before.Lflag&unix.ECHO == 0 || before.Lflag&unix.ICANON == 0 {
			t.Fatalf("a fresh pseudo-terminal should be in cooked mode with echo, lflag=%#x", before.Lflag)
		}

		p.expect(procPrompt, 15*time.Second, "the shell's prompt")

		// While the agent runs, the user's terminal is in raw mode: the sandbox's own terminal
		// does the echoing and line editing, and Ctrl-C reaches the agent as a byte.
		during := p.termios()
		if during.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 {
			t.Errorf("while the shell runs the host terminal must be raw (no ECHO, ICANON, ISIG), lflag=%#x", during.Lflag)
		}

		p.send("echo $((6*7))\r")
		p.expect(regexp.MustCompile(`(?m)^42$`), 5*time.Second, "echo $((6*7))")
		p.expect(procPrompt, 5*time.Second, "the prompt after echo")

		// Resize while the shell runs: the new size reaches the sandbox's terminal.
		if err := pty.Setsize(p.master, &pty.Winsize{Rows: 40, Cols: 100}); err != nil {
			t.Fatal(err)
		}
		// The shell's line editor may redraw "stty size" when the size changes, so the answer can
		// follow that echo on the same line.
		sizeRE := regexp.MustCompile(`(?m)(?:^|stty size)(\d+) (\d+)$`)
		got := ""
		deadline := time.Now().Add(3 * time.Second)
		for got != "40 100" && time.Now().Before(deadline) {
			if got != "" {
				time.Sleep(200 * time.Millisecond)
			}
			p.send("stty size\r")
			m := p.expect(sizeRE, 5*time.Second, "stty size")
			got = m[1] + " " + m[2]
			p.expect(procPrompt, 5*time.Second, "the prompt after stty size")
		}
		if got != "40 100" {
			t.Errorf("after resizing the terminal to 40x100, `stty size` inside prints %q, want \"40 100\"", got)
		}

		// Ctrl-C interrupts the running command, not paddock.
		p.send("sleep 100\r")
		p.expect(regexp.MustCompile(`sleep 100\n`), 5*time.Second, "the echo of sleep 100")
		time.Sleep(300 * time.Millisecond)
		p.skip()
		p.send("\x03")
		start := time.Now()
		p.expect(procPrompt, 2500*time.Millisecond, "the prompt after Ctrl-C interrupted sleep 100")
		t.Logf("Ctrl-C brought the prompt back in %s", time.Since(start).Round(time.Millisecond))
		if !p.running() {
			t.Fatalf("Ctrl-C ended paddock itself (exit %d); it must only interrupt the command inside", p.cmd.ProcessState.ExitCode())
		}
		p.send("echo back-$((1+1))\r")
		p.expect(regexp.MustCompile(`(?m)^back-2$`), 5*time.Second, "a command after Ctrl-C")
		p.expect(procPrompt, 5*time.Second, "the prompt after the command after Ctrl-C")

		p.send("exit 5\r")
		if code := p.wait(10*time.Second, "exit 5"); code != 5 {
			t.Errorf("`exit 5` in the shell: paddock exited %d, want 5", code)
		}

		after := p.termios()
		if after.Lflag&unix.ECHO == 0 {
			t.Errorf("after paddock exited the terminal still has echo off (lflag=%#x): the user's terminal settings were not restored", after.Lflag)
		}
		if after.Iflag != before.Iflag || after.Oflag != before.Oflag || after.Cflag != before.Cflag || after.Lflag != before.Lflag {
			t.Errorf("terminal settings not restored after exit:\nbefore iflag=%#x oflag=%#x cflag=%#x lflag=%#x\nafter  iflag=%#x oflag=%#x cflag=%#x lflag=%#x",
				before.Iflag, before.Oflag, before.Cflag, before.Lflag, after.Iflag, after.Oflag, after.Cflag, after.Lflag)
		}
	})
}

// TestProcessExecTTY: `exec -it` gives the command a terminal; `exec -t` without one is refused.
func TestProcessExecTTY(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("exectty")
		name := procDetach(t, e, ws)

		p := procStartPTY(t, e, ws, 30, 90, "exec", "-it", name, "sh", "-c", "tty; stty size")
		before := p.termios()
		code := p.wait(10*time.Second, "exec -it tty")
		out := p.output()
		if code != 0 {
			t.Errorf("exec -it %s sh -c tty: exit %d, want 0; terminal:\n%s", name, code, out)
		}
		if !regexp.MustCompile(`(?m)^/dev/pts/\d+$`).MatchString(out) {
			t.Errorf("exec -it: `tty` should print a /dev/pts path, the terminal shows:\n%s", out)
		}
		if !regexp.MustCompile(`(?m)^30 90$`).MatchString(out) {
			t.Errorf("exec -it: the sandbox's terminal should start with the caller's size 30x90, the terminal shows:\n%s", out)
		}
		if after := p.termios(); after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
			t.Errorf("exec -it left the terminal changed: lflag %#x -> %#x, iflag %#x -> %#x, oflag %#x -> %#x",
				before.Lflag, after.Lflag, before.Iflag, after.Iflag, before.Oflag, after.Oflag)
		}

		r := e.run(ws, "exec", "-t", name, "sh", "-c", "echo ran")
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		switch {
		case r.code == 0:
			t.Errorf("exec -t without a terminal on stdin must fail: %s", r)
		case strings.Contains(r.stdout, "ran"):
			t.Errorf("exec -t without a terminal must not run the command: %s", r)
		case len(lines) != 1 || !strings.Contains(strings.ToLower(lines[0]), "terminal"):
			t.Errorf("exec -t without a terminal: want one clear line mentioning the terminal on stderr, got %s", r)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// pipes

// TestProcessPipes: without a terminal, streams stay separate, stdin is streamed, the exit code
// passes through and large output arrives complete.
func TestProcessPipes(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("pipes")

		r := e.run(ws, "run", "shell", "-c", "echo out; echo err >&2")
		if r.code != 0 || r.stdout != "out\n" {
			t.Errorf("stdout must carry only the command's stdout: want exit 0 and stdout \"out\\n\", got %s", r)
		}
		if !regexp.MustCompile(`(?m)^err$`).MatchString(r.stderr) || regexp.MustCompile(`(?m)^out$`).MatchString(r.stderr) {
			t.Errorf("stderr must carry the command's stderr (and not its stdout): %s", r)
		}

		input := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\n", 100000/37+1)[:100000]
		r = e.runInput(ws, input, "run", "shell", "-c", "wc -c")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "100000" {
			t.Errorf("100000 bytes on stdin: `wc -c` inside should print 100000, got %s", r)
		}
		r = e.runInput(ws, "hello from the host\n", "run", "shell", "-c", "read line; echo \"got: $line\"")
		if r.code != 0 || r.stdout != "got: hello from the host\n" {
			t.Errorf("stdin line: want \"got: hello from the host\", got %s", r)
		}

		r = e.run(ws, "run", "shell", "-c", "exit 7")
		if r.code != 7 {
			t.Errorf("exit code must pass through: want 7, got %s", r)
		}
		r = e.run(ws, "run", "shell", "-c", "kill -TERM $$")
		if r.code != 128+15 {
			t.Errorf("a command killed by SIGTERM: want exit 143, got %s", r)
		}

		const size = 10 << 20
		start := time.Now()
		r = e.run(ws, "run", "shell", "-c", fmt.Sprintf("yes 0123456789abcdef | head -c %d", size))
		t.Logf("10 MiB through stdout in %s", time.Since(start).Round(time.Millisecond))
		want := strings.Repeat("0123456789abcdef\n", size/17+1)[:size]
		if r.code != 0 || len(r.stdout) != size || r.stdout != want {
			t.Errorf("10 MiB of output: exit %d, got %d bytes (want %d), intact=%v; stderr: %s",
				r.code, len(r.stdout), size, r.stdout == want, r.stderr)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// concurrency

// TestProcessConcurrentRun: twenty `run` at once in one folder share a single sandbox.
func TestProcessConcurrentRun(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("crowd")
		const n = 20
		results := make([]result, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		startGate := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				results[i], errs[i] = procRun(e, ws, "", 60*time.Second, "run", "shell", "-c", "true")
			}()
		}
		close(startGate)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || results[i].code != 0 {
				t.Errorf("concurrent run #%d: %v %s", i, errs[i], results[i])
			}
		}
		ls := procLs(t, e)
		if len(ls) != 1 {
			t.Errorf("twenty concurrent runs in one folder: want exactly 1 sandbox, ls -a shows %d: %+v", len(ls), ls)
		}
		if dirs := e.sandboxDirs(); len(dirs) != 1 {
			t.Errorf("twenty concurrent runs in one folder: want 1 sandbox folder, found %v", dirs)
		}
		if len(ls) == 1 {
			if sv := procSupervisors(filepath.Join(e.phome, "sandboxes", ls[0].ID[:12])); len(sv) != 1 {
				t.Errorf("want exactly one supervisor for the sandbox, found %v", sv)
			}
		}
	})
}

// TestProcessConcurrentExec: ten `exec` at once on a running sandbox all succeed.
func TestProcessConcurrentExec(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("execs")
		name := procDetach(t, e, ws)
		const n = 10
		results := make([]result, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		startGate := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				results[i], errs[i] = procRun(e, ws, "", 30*time.Second, "exec", name, "sh", "-c", "echo $$")
			}()
		}
		close(startGate)
		wg.Wait()
		for i := range n {
			pid, err := strconv.Atoi(strings.TrimSpace(results[i].stdout))
			if errs[i] != nil || results[i].code != 0 || err != nil || pid <= 1 {
				t.Errorf("concurrent exec #%d: want exit 0 and a pid, got %v %s", i, errs[i], results[i])
			}
		}
	})
}

// ---------------------------------------------------------------------------------------------
// crashes and persistence

// procMarkers writes a marker into the sandbox's home and /tmp, creating the sandbox, and returns
// its name.
func procMarkers(t *testing.T, e *env, ws, tag string) string {
	t.Helper()
	r := e.run(ws, "run", "shell", "-c", fmt.Sprintf("echo home-%s > ~/marker && echo tmp-%s > /tmp/marker", tag, tag))
	if r.code != 0 {
		t.Fatalf("writing markers: %s", r)
	}
	ls := procLs(t, e)
	for _, s := range ls {
		if s.Workspace == ws {
			return s.Name
		}
	}
	t.Fatalf("no sandbox listed for %s: %+v", ws, ls)
	return ""
}

// procCheckMarkers runs the agent again: it must (re)start the sandbox and find both markers.
func procCheckMarkers(t *testing.T, e *env, ws, name, tag string) {
	t.Helper()
	r := e.run(ws, "run", "shell", "-c", "cat ~/marker /tmp/marker")
	if want := fmt.Sprintf("home-%s\ntmp-%s\n", tag, tag); r.code != 0 || r.stdout != want {
		t.Errorf("after the crash, run must restart the sandbox with its home and /tmp: want %q, got %s", want, r)
	}
	if st := procStatus(t, e, name); st != "running" {
		t.Errorf("after run, sandbox %s should be running again, ls says %s", name, st)
	}
}

// procAwaitStopped checks that ls -a shows the sandbox stopped within the given time. When it
// does not, it says so and waits up to 10s longer, so that what follows (the restart and the
// persistence of the sandbox's files) is still checked on its own.
func procAwaitStopped(t *testing.T, e *env, name string, within time.Duration) {
	t.Helper()
	start := time.Now()
	last := ""
	stopped := func() bool { last = procStatus(t, e, name); return last == "stopped" }
	if procWait(within, stopped) {
		t.Logf("ls -a showed %s stopped after %s", name, time.Since(start).Round(time.Millisecond))
		return
	}
	t.Errorf("ls -a still shows %s as %q %s after its processes were killed; want stopped within %s",
		name, last, time.Since(start).Round(time.Millisecond), within)
	if !procWait(10*time.Second, stopped) {
		t.Fatalf("ls -a never showed %s stopped (still %q after %s)", name, last, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("ls -a showed %s stopped only after %s", name, time.Since(start).Round(time.Millisecond))
}

func procAwaitGone(t *testing.T, what string, p procIdentity, within time.Duration) {
	t.Helper()
	if !procWait(within, func() bool { return !p.alive() }) {
		t.Errorf("%s %s is still alive %s after the sandbox died", what, p, within)
	}
}

// TestProcessSupervisorKilled: SIGKILL of the supervisor stops the sandbox; run restarts it.
func TestProcessSupervisorKilled(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("svkill")
		name := procMarkers(t, e, ws, "sv")
		st := procRunning(t, e, name)
		sv, _ := procIdentify(st.State.SupervisorPID)
		ini, _ := procIdentify(st.State.InitPID)
		procKill(t, sv.pid)
		procAwaitStopped(t, e, name, time.Second)
		procAwaitGone(t, "the sandbox's init", ini, time.Second)
		procCheckMarkers(t, e, ws, name, "sv")
	})
}

// TestProcessInitKilled: SIGKILL of the init stops the sandbox; run restarts it.
func TestProcessInitKilled(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("initkill")
		name := procMarkers(t, e, ws, "init")
		st := procRunning(t, e, name)
		sv, _ := procIdentify(st.State.SupervisorPID)
		ini, _ := procIdentify(st.State.InitPID)
		procKill(t, ini.pid)
		procAwaitStopped(t, e, name, time.Second)
		procAwaitGone(t, "the sandbox's supervisor", sv, 2*time.Second)
		procCheckMarkers(t, e, ws, name, "init")
	})
}

// procRemoveCgroup removes a cgroup folder and any groups below it, deepest first. A cgroup can be
// removed once its last process is gone, which may take a moment after a SIGKILL.
func procRemoveCgroup(t *testing.T, dir string) {
	t.Helper()
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		var err error
		if !procWait(3*time.Second, func() bool { err = os.Remove(dirs[i]); return err == nil || errors.Is(err, fs.ErrNotExist) }) {
			t.Fatalf("removing cgroup %s: %v", dirs[i], err)
		}
	}
}

// TestProcessMachineRestart simulates a reboot: every process dies at once, and (as root) the
// runtime folder under /run and the cgroups vanish too, while the state files still say running.
func TestProcessMachineRestart(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("reboot")
		name := procMarkers(t, e, ws, "reboot")
		st := procRunning(t, e, name)
		sv, _ := procIdentify(st.State.SupervisorPID)
		ini, _ := procIdentify(st.State.InitPID)
		procKill(t, sv.pid)
		procKill(t, ini.pid)
		if !procWait(3*time.Second, func() bool { return !sv.alive() && !ini.alive() }) {
			t.Fatalf("the sandbox's processes survived SIGKILL: %s, %s", sv, ini)
		}
		if e.mode == asRoot {
			if err := os.RemoveAll(filepath.Join("/run/paddock", st.ID[:12])); err != nil {
				t.Fatalf("removing the runtime folder: %v", err)
			}
			var groups []string
			for _, pat := range []string{"/sys/fs/cgroup/*/paddock/", "/sys/fs/cgroup/paddock.slice/", "/sys/fs/cgroup/*/paddock.slice/"} {
				m, _ := filepath.Glob(pat + st.ID)
				groups = append(groups, m...)
			}
			for _, g := range groups {
				procRemoveCgroup(t, g)
			}
			t.Logf("removed /run/paddock/%s and %d cgroup folders", st.ID[:12], len(groups))
		}
		if st := procStatus(t, e, name); st != "stopped" {
			t.Errorf("after a simulated reboot ls -a shows %s as %q, want stopped", name, st)
		}
		procCheckMarkers(t, e, ws, name, "reboot")
		if sv := procSupervisors(st.Paths["state"]); len(sv) != 1 {
			t.Errorf("after the restart want exactly one supervisor, found %v", sv)
		}
	})
}

// TestProcessCLIKilledMidCreate kills the CLI at several points of creating and starting a
// sandbox; the folder must always end up with exactly one working sandbox.
func TestProcessCLIKilledMidCreate(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		// 0, 5, 10, 20 and 40ms, plus the points in between, and (deterministically) the moment
		// the CLI has spawned the sandbox's supervisor, which has not recorded itself yet: the
		// window in which a supervisor is starting is only a few milliseconds wide.
		type killPoint struct {
			label        string
			delay        time.Duration
			atSupervisor bool
		}
		var points []killPoint
		for _, ms := range []int{0, 2, 5, 8, 10, 12, 15, 20, 25, 30, 40, 60} {
			points = append(points, killPoint{label: fmt.Sprintf("%dms", ms), delay: time.Duration(ms) * time.Millisecond})
		}
		points = append(points, killPoint{label: "supervisor-spawned", atSupervisor: true})
		for _, pt := range points {
			d := pt.label
			ws := e.workspace("midcreate-" + pt.label)
			known := map[int]bool{}
			for _, p := range procSupervisorsUnder(e.phome) {
				known[p.pid] = true
			}
			cmd := e.command(ws, "run", "shell", "-c", "sleep 3")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if pt.atSupervisor {
				// Poll tightly: the supervisor records itself within a few milliseconds.
				spawned := false
				for deadline := time.Now().Add(5 * time.Second); !spawned && time.Now().Before(deadline); {
					for _, p := range procSupervisorsUnder(e.phome) {
						spawned = spawned || !known[p.pid]
					}
					if !spawned {
						time.Sleep(100 * time.Microsecond)
					}
				}
				if !spawned {
					cmd.Process.Kill()
					t.Fatalf("no supervisor appeared within 5s of `run`")
				}
			} else {
				time.Sleep(pt.delay)
			}
			cmd.Process.Kill()
			waited := make(chan struct{})
			go func() { cmd.Wait(); close(waited) }()
			select {
			case <-waited:
			case <-time.After(10 * time.Second):
				t.Fatalf("the killed CLI did not exit")
			}

			procLs(t, e) // must not error or warn right after the kill
			runStart := time.Now()
			r, err := procRun(e, ws, "", 15*time.Second, "run", "shell", "-c", "echo ok")
			took := time.Since(runStart)
			t.Logf("CLI killed after %s (its output: %q); the next run took %s", d, out.String(), took.Round(time.Millisecond))
			if err != nil || r.code != 0 || r.stdout != "ok\n" {
				t.Errorf("CLI killed after %s: the next run in that folder must work, got %v %s", d, err, r)
			} else if took > 5*time.Second {
				t.Errorf("CLI killed after %s: the next run worked but took %s (a first run normally takes tens of ms)", d, took.Round(time.Millisecond))
			}
			var mine []procLsEntry
			for _, s := range procLs(t, e) {
				if s.Workspace == ws {
					mine = append(mine, s)
				}
			}
			if len(mine) != 1 {
				t.Errorf("CLI killed after %s: want exactly one sandbox for %s, ls -a shows %+v", d, ws, mine)
				continue
			}
			if sv := procSupervisors(filepath.Join(e.phome, "sandboxes", mine[0].ID[:12])); len(sv) != 1 {
				t.Errorf("CLI killed after %s: want exactly one supervisor for sandbox %s, found %v", d, mine[0].Name, sv)
			}
		}
		ls := procLs(t, e)
		if len(ls) != len(points) {
			t.Errorf("want one sandbox per folder (%d), ls -a shows %d: %+v", len(points), len(ls), ls)
		}
		var visible []string
		for _, d := range e.sandboxDirs() {
			if !strings.HasPrefix(d, ".") {
				visible = append(visible, d)
			}
		}
		if len(visible) != len(points) {
			t.Errorf("want %d sandbox folders, found %v", len(points), visible)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// processes inside

// TestProcessZombiesReaped: orphans that end inside the sandbox are reaped by its init.
func TestProcessZombiesReaped(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("zombies")
		script := `(sleep 0.2 &) ; (sleep 0.2 &) ; (sleep 0.2 &) ; sleep 1
if command -v ps >/dev/null 2>&1; then ps -eo stat= | grep -c Z || true
else cat /proc/[0-9]*/stat 2>/dev/null | sed 's/.*) //' | cut -d' ' -f1 | grep -c Z || true; fi`
		r := e.run(ws, "run", "shell", "-c", script)
		if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
			t.Errorf("orphaned processes that exited must be reaped: want 0 zombies, got %s", r)
		}
	})
}

// TestProcessStopEndsEverything: stop leaves no process of the sandbox on the host; exec restarts it.
func TestProcessStopEndsEverything(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("stopall")
		name := procDetach(t, e, ws)
		// A background process, and one that ignores SIGTERM (stop must not wait for its consent).
		r := e.run(ws, "exec", name, "sh", "-c",
			`sleep 1000 >/dev/null 2>&1 & (trap "" TERM HUP; exec sleep 1001) >/dev/null 2>&1 & echo started`)
		if r.code != 0 || r.stdout != "started\n" {
			t.Fatalf("starting background processes: %s", r)
		}
		var procs []procIdentity
		missing := []string{}
		found := procWait(2*time.Second, func() bool {
			st := procRunning(t, e, name)
			procs = procs[:0]
			seen := map[string]bool{}
			for _, pid := range st.State.Pids {
				if id, ok := procIdentify(pid); ok {
					procs = append(procs, id)
				}
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				seen[strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")] = true
			}
			missing = missing[:0]
			for _, want := range []string{"sleep 1000", "sleep 1001"} {
				if !seen[want] {
					missing = append(missing, want)
				}
			}
			return len(missing) == 0
		})
		if !found {
			t.Fatalf("background processes started by exec must keep running after exec returns (as with docker exec), "+
				"and inspect's state.pids must list them; missing %v among %v", missing, procs)
		}

		start := time.Now()
		if r := e.run("", "stop", "-t", "1", name); r.code != 0 {
			t.Fatalf("stop -t 1: %s", r)
		}
		took := time.Since(start)
		t.Logf("stop -t 1 took %s", took.Round(time.Millisecond))
		if took > 6*time.Second {
			t.Errorf("stop -t 1 took %s: a process ignoring SIGTERM must be killed once the 1s grace is over", took.Round(time.Millisecond))
		}
		for _, p := range procs {
			if p.alive() {
				t.Errorf("after stop, %s of the sandbox is still running on the host", p)
			}
		}
		if st := procStatus(t, e, name); st != "stopped" {
			t.Errorf("after stop, ls -a shows %s as %q, want stopped", name, st)
		}

		r = e.run(ws, "exec", name, "sh", "-c", "echo again; pgrep sleep >/dev/null && echo sleep-survived || true")
		if r.code != 0 || r.stdout != "again\n" {
			t.Errorf("exec after stop must restart the sandbox (and the old sleeps must be gone): %s", r)
		}
		if st := procStatus(t, e, name); st != "running" {
			t.Errorf("after exec, ls -a shows %s as %q, want running", name, st)
		}
	})
}

// TestProcessIdleMemory reports what an idle sandbox costs; the target (12 MiB) is benchmarked
// separately, so this only checks that the figure is reported.
func TestProcessIdleMemory(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("idle")
		name := procDetach(t, e, ws)
		time.Sleep(200 * time.Millisecond)
		st := procRunning(t, e, name)
		if st.State.MemoryBytes <= 0 {
			t.Fatalf("inspect must report state.memory_bytes of a running sandbox, got %d", st.State.MemoryBytes)
		}
		t.Logf("idle sandbox (%s): memory_bytes=%d (%.1f MiB) over pids %v; target <= 12 MiB",
			e.mode, st.State.MemoryBytes, float64(st.State.MemoryBytes)/(1<<20), st.State.Pids)
	})
}
