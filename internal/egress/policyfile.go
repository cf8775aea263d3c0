package egress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/flock"
	"github.com/paddockhq/paddock/internal/fsutil"
)

// GlobalPolicyPath is the file of the rules every sandbox gets (PADDOCK_HOME/egress/policy.json).
func GlobalPolicyPath(home string) string { return filepath.Join(home, "egress", "policy.json") }

// SandboxPolicyPath is the file of one sandbox's own rules, in its state folder.
func SandboxPolicyPath(stateDir string) string {
	return filepath.Join(stateDir, "egress", "policy.json")
}

// AuditPath is a sandbox's audit log, in its state folder.
func AuditPath(stateDir string) string { return filepath.Join(stateDir, "egress", "audit.jsonl") }

// ErrNoRule is returned by Remove when the file has no such rule.
var ErrNoRule = errors.New("no such rule")

type fileRule struct {
	Rule   string    `json:"rule"`
	Action string    `json:"action"` // "allow" or "deny"
	Added  time.Time `json:"added,omitzero"`
}

type fileDoc struct {
	Rules []fileRule `json:"rules"`
}

// RuleFile is one policy file: the global one or a sandbox's.
type RuleFile struct {
	Path   string
	Source string // "global" or "sandbox"
}

// Read returns the file's rules (none when it does not exist).
func (f RuleFile) Read() ([]Entry, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc fileDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("policy file %s is damaged (%v): fix or delete it", f.Path, err)
	}
	var out []Entry
	for _, fr := range doc.Rules {
		r, err := ParseRule(fr.Rule)
		if err != nil {
			return nil, fmt.Errorf("policy file %s: %w", f.Path, err)
		}
		out = append(out, Entry{Rule: r, Deny: fr.Action == "deny", Source: f.Source})
	}
	return out, nil
}

// update rewrites the file atomically under an exclusive lock on a lock file beside it.
func (f RuleFile) update(change func(doc *fileDoc) error) error {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	unlock, err := flock.Lock(f.Path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	var doc fileDoc
	if b, err := os.ReadFile(f.Path); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("policy file %s is damaged (%v): fix or delete it", f.Path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := change(&doc); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return fsutil.ReplaceFile(f.Path, append(b, '\n'), 0o600)
}

// Add records rules with an action; a rule already there changes its action.
func (f RuleFile) Add(deny bool, rules ...Rule) error {
	action := "allow"
	if deny {
		action = "deny"
	}
	return f.update(func(doc *fileDoc) error {
	next:
		for _, r := range rules {
			s := r.String()
			for i := range doc.Rules {
				if doc.Rules[i].Rule == s {
					doc.Rules[i].Action = action
					continue next
				}
			}
			doc.Rules = append(doc.Rules, fileRule{Rule: s, Action: action, Added: time.Now().UTC().Truncate(time.Second)})
		}
		return nil
	})
}

// Remove deletes a rule (whatever its action).
func (f RuleFile) Remove(r Rule) error {
	s := r.String()
	return f.update(func(doc *fileDoc) error {
		for i := range doc.Rules {
			if doc.Rules[i].Rule == s {
				doc.Rules = append(doc.Rules[:i], doc.Rules[i+1:]...)
				return nil
			}
		}
		return ErrNoRule
	})
}

// LoadPolicy reads a sandbox's policy: its preset's rules, the global file, its own file.
func LoadPolicy(home, stateDir, preset string) (*Policy, error) {
	p := &Policy{Preset: preset, Entries: PresetEntries(preset)}
	for _, f := range []RuleFile{{GlobalPolicyPath(home), "global"}, {SandboxPolicyPath(stateDir), "sandbox"}} {
		if stateDir == "" && f.Source == "sandbox" {
			continue
		}
		e, err := f.Read()
		if err != nil {
			return nil, err
		}
		p.Entries = append(p.Entries, e...)
	}
	p.Entries = append(p.Entries, endpointEntries(home, preset)...)
	return p, nil
}

// livePolicy re-reads the policy files when they change (two stat calls per connection), so that `paddock policy allow` applies to running sandboxes at once.
type livePolicy struct {
	home, stateDir, preset string

	mu    sync.Mutex
	stamp string
	cur   *Policy
	err   error
}

func fileStamp(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "-"
	}
	// Files are replaced by rename: a new inode tells a change that mtime's granularity hides.
	return fmt.Sprintf("%d.%d.%d", fileID(st), st.Size(), st.ModTime().UnixNano())
}

func (l *livePolicy) get() (*Policy, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stamp := fileStamp(GlobalPolicyPath(l.home)) + "/" + fileStamp(SandboxPolicyPath(l.stateDir)) + "/" + fileStamp(EndpointsDir(l.home))
	if l.cur != nil && stamp == l.stamp {
		return l.cur, l.err
	}
	p, err := LoadPolicy(l.home, l.stateDir, l.preset)
	if err != nil {
		// A damaged file denies everything (never fail open) until it is fixed.
		p = &Policy{Preset: l.preset}
	}
	l.cur, l.err, l.stamp = p, err, stamp
	return p, err
}
