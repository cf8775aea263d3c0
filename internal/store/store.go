// Package store keeps sandbox records on disk under PADDOCK_HOME: one folder per sandbox with
// its record written atomically, and file locks that serialise concurrent paddock commands.
package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/flock"
)

// Error categories.
var (
	ErrNotFound  = errors.New("no such sandbox")
	ErrAmbiguous = errors.New("ambiguous sandbox reference")
	ErrCorrupt   = errors.New("corrupt sandbox record")
)

// SchemaVersion is the version of the record format this build writes.
const SchemaVersion = 1

// Record is everything paddock keeps about one sandbox.
type Record struct {
	Schema    int          `json:"schema"`
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Agent     string       `json:"agent"`
	Workspace string       `json:"workspace"`
	Backend   string       `json:"backend"`
	Created   time.Time    `json:"created"`
	Spec      backend.Spec `json:"spec"`
	// AgentVersion pins the agent's version ("" follows the latest); AgentConfig is "host" when
	// the host's own agent instructions are shown read-only. Both are applied when it starts.
	AgentVersion string `json:"agent_version,omitempty"`
	AgentConfig  string `json:"agent_config,omitempty"`
	// Branch is set for a sandbox in branch mode (--branch): it works in its own checkout of
	// the workspace's repository, never in the workspace.
	Branch *Branch `json:"branch,omitempty"`
}

// Branch is a branch-mode sandbox's checkout.
type Branch struct {
	Name     string `json:"name"`     // its branch is paddock/Name
	Base     string `json:"base"`     // the commit it started from (the user's HEAD then)
	Checkout string `json:"checkout"` // its own checkout, in its private state
	GitDir   string `json:"git_dir"`  // the user's repository's (common) git folder
}

// ShortID is the 12-character form shown in listings.
func (r *Record) ShortID() string { return r.ID[:12] }

// Corrupt describes a sandbox folder whose record cannot be read.
type Corrupt struct {
	Dir string
	Err error
}

// Store is the state folder.
type Store struct {
	Root string
}

// DefaultHome is $PADDOCK_HOME, else $XDG_DATA_HOME/paddock, else ~/.local/share/paddock.
func DefaultHome() (string, error) {
	if h := os.Getenv("PADDOCK_HOME"); h != "" {
		// A relative one would put paddock's state inside whatever folder a command runs in.
		if !filepath.IsAbs(h) {
			return "", fmt.Errorf("PADDOCK_HOME=%s is not an absolute path: set it to one, e.g. PADDOCK_HOME=$HOME/.local/share/paddock", h)
		}
		return filepath.Clean(h), nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "paddock"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a home folder for paddock's state; set PADDOCK_HOME: %w", err)
	}
	return filepath.Join(home, ".local", "share", "paddock"), nil
}

// Open opens (creating if needed) the store at root.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(root, "sandboxes"), 0o700); err != nil {
		return nil, fmt.Errorf("creating paddock's state folder %s: %w", root, err)
	}
	return &Store{Root: root}, nil
}

func (s *Store) sandboxes() string { return filepath.Join(s.Root, "sandboxes") }

// Dir is the private state folder of a sandbox.
func (s *Store) Dir(id string) string { return filepath.Join(s.sandboxes(), id[:12]) }

func recordPath(dir string) string { return filepath.Join(dir, "record.json") }

// Lock takes the store-wide lock that serialises creating, naming and removing sandboxes.
func (s *Store) Lock() (unlock func(), err error) {
	return flock.Lock(filepath.Join(s.sandboxes(), ".lock"))
}

// LockSandbox takes one sandbox's lock, held while it is started, stopped or removed.
func (s *Store) LockSandbox(id string) (unlock func(), err error) {
	return flock.Lock(filepath.Join(s.sandboxes(), "."+id[:12]+".lock"))
}

// NewID returns a fresh 64-hex-digit sandbox ID whose short form is not in use.
func (s *Store) NewID() (string, error) {
	for range 10 {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		id := hex.EncodeToString(b[:])
		if _, err := os.Lstat(s.Dir(id)); errors.Is(err, fs.ErrNotExist) {
			return id, nil
		}
	}
	return "", errors.New("could not find a free sandbox ID")
}

// Create writes a new sandbox's folder and record in one atomic step: the folder appears
// complete or not at all. Call with the store lock held.
func (s *Store) Create(r *Record) error {
	r.Schema = SchemaVersion
	tmp, err := os.MkdirTemp(s.sandboxes(), ".new-")
	if err != nil {
		return err
	}
	if err := writeRecord(tmp, r); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, s.Dir(r.ID)); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return nil
}

// Save rewrites an existing record atomically.
func (s *Store) Save(r *Record) error {
	r.Schema = SchemaVersion
	return writeRecord(s.Dir(r.ID), r)
}

func writeRecord(dir string, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := recordPath(dir) + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, recordPath(dir))
}

func readRecord(dir string) (*Record, error) {
	b, err := os.ReadFile(recordPath(dir))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, recordPath(dir), err)
	}
	if r.Schema > SchemaVersion {
		return nil, fmt.Errorf("%w: %s was written by a newer paddock (schema %d)", ErrCorrupt, recordPath(dir), r.Schema)
	}
	if len(r.ID) != 64 || r.ID[:12] != filepath.Base(dir) || r.Name == "" || len(r.Spec.Mounts) == 0 {
		return nil, fmt.Errorf("%w: %s does not describe this sandbox", ErrCorrupt, recordPath(dir))
	}
	return &r, nil
}

// List returns every readable record, oldest first, and the folders whose record is corrupt.
// Folders of creations that were interrupted are cleaned up on the way.
func (s *Store) List() ([]*Record, []Corrupt, error) {
	entries, err := os.ReadDir(s.sandboxes())
	if err != nil {
		return nil, nil, err
	}
	var recs []*Record
	var bad []Corrupt
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() {
			continue
		}
		if strings.HasPrefix(name, ".new-") {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Minute {
				os.RemoveAll(filepath.Join(s.sandboxes(), name))
			}
			continue
		}
		if strings.HasPrefix(name, ".") {
			continue
		}
		r, err := readRecord(filepath.Join(s.sandboxes(), name))
		if err != nil {
			bad = append(bad, Corrupt{Dir: filepath.Join(s.sandboxes(), name), Err: err})
			continue
		}
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Created.Before(recs[j].Created) })
	return recs, bad, nil
}

// Resolve finds a sandbox by name, full ID or unique ID prefix.
func (s *Store) Resolve(ref string) (*Record, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, fmt.Errorf("%w: an empty name", ErrNotFound)
	}
	recs, bad, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Name == ref || r.ID == ref {
			return r, nil
		}
	}
	var matches []*Record
	for _, r := range recs {
		if strings.HasPrefix(r.ID, ref) {
			matches = append(matches, r)
		}
	}
	if len(matches) == 1 {
		return matches[0], nil
	}
	if len(matches) > 1 {
		return nil, fmt.Errorf("%w: %q matches %d sandboxes; give more of the ID", ErrAmbiguous, ref, len(matches))
	}
	for _, c := range bad {
		if strings.HasPrefix(filepath.Base(c.Dir), ref) && len(ref) >= 4 {
			return nil, fmt.Errorf("sandbox %s: %w (remove it with `paddock rm -f %s`)", filepath.Base(c.Dir), c.Err, filepath.Base(c.Dir))
		}
	}
	return nil, fmt.Errorf("%w: %q (see `paddock ls -a`)", ErrNotFound, ref)
}

// ResolveCorrupt finds a corrupt sandbox folder by its ID prefix, so that it can be removed.
func (s *Store) ResolveCorrupt(ref string) (string, bool) {
	_, bad, err := s.List()
	if err != nil || len(ref) < 4 {
		return "", false
	}
	for _, c := range bad {
		if strings.HasPrefix(filepath.Base(c.Dir), ref) {
			return c.Dir, true
		}
	}
	return "", false
}
