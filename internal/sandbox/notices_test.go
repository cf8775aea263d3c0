package sandbox

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/egress"
)

// lockedBuffer is an io.Writer the notice goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEgressNotices: each refused host:port once, with the allow command; live for a shell or
// a script, held until the session ends for an agent drawing its screen on a terminal.
func TestEgressNotices(t *testing.T) {
	for _, tt := range []struct {
		name      string
		raw, hold bool
		lead, eol string
	}{
		{"script", false, false, "", "\n"},
		{"shell on a terminal", true, false, "\r\n", "\r\n"},
		{"agent on a terminal", true, true, "", "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			path := egress.AuditPath(state)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			var errb lockedBuffer
			m := &Manager{Progress: &errb}
			stop := m.egressNotices(state, "claude-proj", tt.raw, tt.hold)
			log, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			enc := json.NewEncoder(log)
			for _, r := range []egress.Record{
				{Host: "example.org", Port: 443, Decision: "deny", Reason: "no rule allows example.org:443"},
				{Host: "example.org", Port: 443, Decision: "deny", Reason: "no rule allows example.org:443"},
				{Host: "api.anthropic.com", Port: 443, Decision: "allow"},
			} {
				enc.Encode(r)
			}
			log.Close()
			time.Sleep(600 * time.Millisecond) // three polls
			during := errb.String()
			stop()
			after := errb.String()
			want := tt.lead + "paddock: blocked example.org:443 (no rule allows example.org:443); to allow it: paddock policy allow example.org --sandbox claude-proj" + tt.eol
			if tt.hold {
				if during != "" {
					t.Errorf("printed during the session: %q", during)
				}
			} else if during != want {
				t.Errorf("during the session: %q, want %q", during, want)
			}
			if after != want {
				t.Errorf("after the session: %q, want %q", after, want)
			}
		})
	}
}

// Errors quoting what a sandbox wrote reach the terminal as one line with no control characters.
func TestOneLineEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain error", "plain error"},
		{"two\nlines", "two; lines"},
		{"name \x1b[2Jcleared", `name \x1b[2Jcleared`},
		{"a\rforged line", `a\rforged line`},
		{`back\slash`, `back\slash`},
		{"bidi \u202etxt.exe", `bidi \u202etxt.exe`},
		{"bad input: é ok", "é ok"},
	} {
		if got := OneLine(tc.in); got != tc.want {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
