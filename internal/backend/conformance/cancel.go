//go:build unix

package conformance

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
)

// testExecCancel: an exec whose context ends returns at once with the context's error, and its
// process ends in the sandbox, with what it started (front ends time commands out this way).
func testExecCancel(t *testing.T, s *suite) {
	s.start()
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer null.Close()
	ctx, cancel := context.WithTimeout(s.ctx, time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.b.Exec(ctx, s.sb, backend.ExecRequest{Argv: []string{"/bin/sh", "-c", "sleep 1003; echo never"}, Dir: s.ws},
		backend.ExecIO{Stdin: null, Stdout: null, Stderr: null})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 15*time.Second {
		t.Fatalf("Exec after its context ended: %v, after %v", err, time.Since(start))
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ps := s.sh(`for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < $f; echo; done 2>/dev/null`)
		if !strings.Contains(ps, "sleep 1003") {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("the command still runs in the sandbox:\n%s", ps)
		}
	}
}

// testExecClosedOutput: when whoever reads an exec's output goes away (a closed pipe), the
// process ends as it would on a pipe (SIGPIPE, exit 141 from a shell's view) instead of writing
// on for nobody; paddock cp closes the pipe this way when it refuses what a sandbox sends.
func testExecClosedOutput(t *testing.T, s *suite) {
	s.start()
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 4096)
		r.Read(b) // the first output, then the reader leaves
		r.Close()
	}()
	ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	code, err := s.b.Exec(ctx, s.sb, backend.ExecRequest{Argv: []string{"/bin/sh", "-c", "while :; do echo yes; done"}, Dir: s.ws},
		backend.ExecIO{Stdin: null, Stdout: w, Stderr: null})
	w.Close()
	if err != nil || code != 141 || time.Since(start) > 20*time.Second {
		t.Fatalf("Exec whose output pipe closed: exit %d, %v, after %v (want 141 at once)", code, err, time.Since(start))
	}
}
