package sandbox

import (
	"fmt"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/egress"
)

// egressNotices reports on Progress each connection the sandbox's proxy refuses while a command
// runs: once per host and port, with the command that would allow it. raw: the terminal is in raw
// mode (a notice starts on a line of its own). With hold, they are kept until the returned
// function, which stops it after a last look at the log, prints them.
func (m *Manager) egressNotices(stateDir, name string, raw, hold bool) func() {
	tail := egress.NewAuditTail(stateDir)
	seen := map[string]bool{}
	var held []string
	lead, nl := "", "\n"
	if raw {
		// A shell's prompt may be on the line: the notice starts on a line of its own.
		lead, nl = "\r\n", "\r\n"
	}
	report := func(r egress.Record) {
		if r.Decision != "deny" {
			return
		}
		key := fmt.Sprintf("%s:%d", r.Host, r.Port)
		if strings.Contains(r.Host, ":") {
			key = fmt.Sprintf("[%s]:%d", r.Host, r.Port)
		}
		if seen[key] {
			return
		}
		seen[key] = true
		msg := fmt.Sprintf("paddock: blocked %s (%s)", egress.Printable(key), egress.Printable(r.Reason))
		if cmd := egress.RecordHint(r, name); cmd != "" && !strings.Contains(r.Reason, "not supported") && !strings.HasPrefix(r.Reason, "too many") {
			msg += "; to allow it: " + cmd
		}
		if hold {
			held = append(held, msg)
			return
		}
		fmt.Fprint(m.Progress, lead+msg+nl)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				tail.Poll(report)
				return
			case <-t.C:
				tail.Poll(report)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		// The session is over and the terminal restored.
		for _, msg := range held {
			fmt.Fprintln(m.Progress, msg)
		}
	}
}
