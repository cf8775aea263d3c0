package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// statFields returns the fields of /proc/PID/stat after the command name: [0] is field 3 (state).
func statFields(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
}

// The supervisor (the egress proxy) runs under SCHED_BATCH in the caller's session, so that it
// forwards in batches instead of preempting the processes it serves at every packet (issue 5's
// bulk throughput); the init and everything in the sandbox keep the default policy, in sessions
// of their own, without the caller's terminal.
func TestSupervisorScheduling(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("sched")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
		st := procRunning(t, e, name)
		const policy, session, tty = 41 - 3, 6 - 3, 7 - 3
		tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(st.State.SupervisorPID), "task"))
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			f := statFields(t, filepath.Join("/proc", strconv.Itoa(st.State.SupervisorPID), "task", task.Name(), "stat"))
			if f[policy] != "3" {
				t.Errorf("supervisor thread %s: scheduling policy %s, want 3 (SCHED_BATCH)", task.Name(), f[policy])
			}
		}
		sup := statFields(t, filepath.Join("/proc", strconv.Itoa(st.State.SupervisorPID), "stat"))
		if sid, _ := unix.Getsid(0); sup[session] != strconv.Itoa(sid) {
			t.Errorf("supervisor session %s, want the caller's %d (a session of its own is a scheduling group of its own)", sup[session], sid)
		}
		in := statFields(t, filepath.Join("/proc", strconv.Itoa(st.State.InitPID), "stat"))
		if in[policy] != "0" || in[session] != strconv.Itoa(st.State.InitPID) || in[tty] != "0" {
			t.Errorf("init: policy %s, session %s, tty %s; want policy 0, its own session %d, no terminal", in[policy], in[session], in[tty], st.State.InitPID)
		}
		// Inside: the default policy, and a session without a terminal.
		out := strings.Fields(e.ok(ws, "exec", name, "sh", "-c", `s=$(cat /proc/self/stat); s=${s##*) }; echo $s`))
		if len(out) < 39 || out[policy] != "0" || out[tty] != "0" {
			t.Errorf("a process in the sandbox: policy %v, tty %v; want 0, 0 (stat %q)", out[policy], out[tty], out)
		}
		// The supervisor does not let a closing terminal end it, but the processes inside keep
		// SIGHUP's default action (the init hangs up those whose caller went away).
		ign := strings.TrimSpace(e.ok(ws, "exec", name, "sh", "-c", `grep SigIgn /proc/self/status | cut -f2`))
		if v, err := strconv.ParseUint(ign, 16, 64); err != nil || v&1 != 0 {
			t.Errorf("SIGHUP ignored in the sandbox: SigIgn %q", ign)
		}
	})
}
