package egress

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Record is one line of a sandbox's audit log: one connection (or one plain-HTTP request) and
// the decision on it. Allowed connections are logged when they end, with their byte counts;
// refused ones at once.
type Record struct {
	Time     time.Time `json:"time"`
	Sandbox  string    `json:"sandbox,omitempty"`
	Proto    string    `json:"proto"` // "connect", "http", "socks5"
	Host     string    `json:"host"`
	Port     int       `json:"port"`
	Addr     string    `json:"addr,omitempty"` // the address dialled
	Decision string    `json:"decision"`       // "allow" or "deny"
	Rule     string    `json:"rule,omitempty"`
	Source   string    `json:"source,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// DNS: the proxy asked the host's resolver for Host (only names a rule allows); Resolved
	// is what it answered.
	DNS      bool     `json:"dns,omitempty"`
	Resolved []string `json:"resolved,omitempty"`
	// Refused: the addresses of an allowed name that no rule's range covers (a private or
	// reserved address); a rule naming them is what would allow the connection.
	Refused []string `json:"refused,omitempty"`
	// Credential names the stored secret the proxy put into the requests (TLS intercepted).
	Credential string `json:"credential,omitempty"`
	BytesOut   int64  `json:"bytes_out"` // sandbox -> outside
	BytesIn    int64  `json:"bytes_in"`  // outside -> sandbox
	DurationMS int64  `json:"duration_ms,omitempty"`
	Error      string `json:"error,omitempty"`
}

// AuditMaxBytes is the size at which a sandbox's audit log is rotated: audit.jsonl becomes
// audit.jsonl.1 (replacing the previous one) and a new log starts.
var AuditMaxBytes int64 = 32 << 20

type auditLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
}

func openAudit(path string) (*auditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	a := &auditLog{path: path, f: f}
	if st, err := f.Stat(); err == nil {
		a.size = st.Size()
	}
	return a, nil
}

func (a *auditLog) write(r Record) {
	if a == nil {
		return
	}
	b, _ := json.Marshal(r)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.size+int64(len(b)) >= AuditMaxBytes {
		if os.Rename(a.path, a.path+".1") == nil {
			if f, err := os.OpenFile(a.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
				a.f.Close()
				a.f, a.size = f, 0
			}
		}
	}
	n, _ := a.f.Write(append(b, '\n'))
	a.size += int64(n)
}

func (a *auditLog) close() {
	if a != nil {
		a.f.Close()
	}
}

// ReadAudit calls fn for each record of a sandbox's audit log; with follow it then waits for new
// ones until ctx ends. A missing log has no records.
func ReadAudit(ctx context.Context, stateDir string, follow bool, fn func(Record) error) error {
	return readAuditFrom(ctx, AuditPath(stateDir), 0, follow, fn)
}

// TailAudit calls fn for records written after now, until ctx ends.
func TailAudit(ctx context.Context, stateDir string, fn func(Record) error) error {
	var off int64
	if st, err := os.Stat(AuditPath(stateDir)); err == nil {
		off = st.Size()
	}
	return readAuditFrom(ctx, AuditPath(stateDir), off, true, fn)
}

func readAuditFrom(ctx context.Context, path string, off int64, follow bool, fn func(Record) error) error {
	var f *os.File
	for f == nil {
		var err error
		f, err = os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			if !follow {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
				continue
			}
		}
		if err != nil {
			return err
		}
	}
	defer func() { f.Close() }()
	if off > 0 {
		if st, err := f.Stat(); err == nil && st.Size() < off {
			off = 0
		}
		f.Seek(off, io.SeekStart)
	}
	br := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		if err == nil {
			line = append(partial, line...)
			partial = nil
			var r Record
			if json.Unmarshal(line, &r) == nil {
				if err := fn(r); err != nil {
					return err
				}
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		partial = append(partial, line...)
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		// Rotated: go on with the new log.
		if cur, err := os.Stat(path); err == nil {
			if st, err := f.Stat(); err == nil && !os.SameFile(cur, st) {
				if nf, err := os.Open(path); err == nil {
					f.Close()
					f, br, partial = nf, bufio.NewReader(nf), nil
				}
			}
		}
	}
}

// AuditTail reads the records a sandbox's audit log gets after it is made, on demand.
type AuditTail struct {
	path string
	off  int64
}

// NewAuditTail starts at the log's current end.
func NewAuditTail(stateDir string) *AuditTail {
	t := &AuditTail{path: AuditPath(stateDir)}
	if st, err := os.Stat(t.path); err == nil {
		t.off = st.Size()
	}
	return t
}

// Poll calls fn for each complete record written since the last Poll.
func (t *AuditTail) Poll(fn func(Record)) {
	f, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() <= t.off {
		if err == nil && st.Size() < t.off {
			t.off = 0 // the log was replaced
		}
		return
	}
	f.Seek(t.off, io.SeekStart)
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return // an incomplete line waits for the next Poll
		}
		t.off += int64(len(line))
		var r Record
		if json.Unmarshal(line, &r) == nil {
			fn(r)
		}
	}
}
