package batchsched

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// policies returns the scheduling policy of every thread of pid (the 41st field of stat).
func policies(t *testing.T, pid string) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/" + pid + "/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + pid + "/task/" + task.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		out = append(out, fields[40-2])
	}
	return out
}

func TestProcess(t *testing.T) {
	if os.Getenv("BATCHSCHED_CHILD") == "1" {
		if err := Process(); err != nil {
			t.Fatal(err)
		}
		// A thread started afterwards inherits the policy.
		done := make(chan []string)
		go func() { done <- policies(t, "self") }()
		for _, p := range <-done {
			if p != "3" {
				t.Fatalf("thread policies %v, want all 3 (SCHED_BATCH)", policies(t, "self"))
			}
		}
		cmd := exec.Command("cat", "/proc/self/stat")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		s := string(out)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]); f[38] != "3" {
			t.Fatalf("a child's policy is %s, want 3", f[38])
		}
		return
	}
	// In a child process: the policy would otherwise stay on this test binary's threads.
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "BATCHSCHED_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, p := range policies(t, "self") {
		if p != "0" {
			t.Fatalf("the parent's threads changed policy: %v", policies(t, "self"))
		}
	}
}
