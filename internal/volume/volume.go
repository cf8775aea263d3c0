// Package volume keeps the paddock-managed volumes: one folder per agent under
// PADDOCK_HOME/volumes (paddock-claude-data, ...), mode 0700, holding the agent's config folders
// (login, settings, history). Every sandbox of that agent mounts them; `rm` of a sandbox keeps
// them.
package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/fsutil"
)

// ErrNotFound: no volume has that name.
var ErrNotFound = errors.New("no such volume")

var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^paddock-([a-z0-9][a-z0-9_.-]*)-data$`) })

// Store is the volumes folder.
type Store struct {
	Root string
}

// Volume is one agent's volume.
type Volume struct {
	Name    string   `json:"name"`
	Agent   string   `json:"agent"`
	Path    string   `json:"path"`
	Size    int64    `json:"size_bytes"`
	Folders []Folder `json:"folders"`
}

// Folder is a subfolder of a volume and where sandboxes see it.
type Folder struct {
	Path   string `json:"path"`
	Target string `json:"target,omitempty"`
}

// Path is the host folder of an agent's volume.
func (s *Store) Path(agentName string) string {
	return filepath.Join(s.Root, agent.VolumeName(agentName))
}

// Mounts creates (when missing) the agent's volume with one folder per config folder, mode 0700,
// and returns the mounts that show them at the config folders.
func (s *Store) Mounts(a agent.Agent) ([]backend.Mount, error) {
	dirs := a.Info().ConfigDirs
	if len(dirs) == 0 {
		return nil, nil
	}
	vol := s.Path(a.Name())
	var ms []backend.Mount
	for _, d := range append([]string{s.Root, vol}, dirs...) {
		p := d
		if strings.HasPrefix(d, agent.Home+"/") {
			p = filepath.Join(vol, agent.VolumeSubdir(d))
			ms = append(ms, backend.Mount{Kind: backend.KindVolume, Source: p, Target: d})
		}
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creating volume %s: %w", agent.VolumeName(a.Name()), err)
		}
	}
	return ms, nil
}

// Check reports whether name is a volume name.
func Check(name string) error {
	if !nameRE().MatchString(name) {
		return fmt.Errorf("%w: %q (volumes are named paddock-AGENT-data; see `paddock volume ls`)", ErrNotFound, name)
	}
	return nil
}

// List returns the volumes on disk, by name.
func (s *Store) List() ([]Volume, error) {
	entries, err := os.ReadDir(s.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Volume
	for _, e := range entries {
		if !e.IsDir() || !nameRE().MatchString(e.Name()) {
			continue
		}
		v, err := s.Get(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get describes one volume.
func (s *Store) Get(name string) (Volume, error) {
	if err := Check(name); err != nil {
		return Volume{}, err
	}
	p := filepath.Join(s.Root, name)
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return Volume{}, fmt.Errorf("%w: %q (see `paddock volume ls`)", ErrNotFound, name)
	}
	v := Volume{Name: name, Agent: nameRE().FindStringSubmatch(name)[1], Path: p, Folders: []Folder{}}
	targets := map[string]string{}
	if a, err := agent.Lookup(v.Agent); err == nil {
		for _, d := range a.Info().ConfigDirs {
			targets[agent.VolumeSubdir(d)] = d
		}
	}
	entries, _ := os.ReadDir(p)
	for _, e := range entries {
		if e.IsDir() {
			v.Folders = append(v.Folders, Folder{Path: filepath.Join(p, e.Name()), Target: targets[e.Name()]})
		}
	}
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				v.Size += info.Size()
			}
		}
		return nil
	})
	return v, nil
}

// Remove deletes a volume and everything in it, never crossing into another filesystem.
func (s *Store) Remove(name string) error {
	v, err := s.Get(name)
	if err != nil {
		return err
	}
	return fsutil.RemoveTree(v.Path)
}
