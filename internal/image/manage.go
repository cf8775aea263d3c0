package image

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Summary is one template as `template ls` shows it, for this store's flavour.
type Summary struct {
	Ref      string    `json:"ref"`  // full reference
	Name     string    `json:"name"` // as docker shows it (debian:bookworm)
	Digest   string    `json:"digest"`
	ID       string    `json:"id"`
	Source   string    `json:"source"`
	Platform string    `json:"platform"`
	Created  time.Time `json:"created,omitzero"`
	Pulled   time.Time `json:"pulled"`
	Layers   int       `json:"layers"`
	// Size is the disk its unpacked layers take; Shared the part in layers other templates use
	// too, Unique the rest (what removing it frees).
	Size   int64 `json:"size"`
	Shared int64 `json:"shared_size"`
	Unique int64 `json:"unique_size"`
	// Complete says every layer is unpacked for this flavour (a sandbox can start from it).
	Complete bool `json:"complete"`
	// Owners says how file owners landed on disk; Squashed counts files given to root (or
	// nobody) because their owner does not exist in this flavour.
	Owners   string   `json:"owners"`
	Squashed int      `json:"squashed_owners"`
	UsedBy   []string `json:"used_by"`
}

// Details is `template inspect`: the summary, the record, and where each layer is.
type Details struct {
	Summary
	Config      Config        `json:"config"`
	LayerDirs   []string      `json:"layer_dirs"`
	LowerDir    string        `json:"overlay_lowerdir"`
	LayerRecord []LayerDetail `json:"layer_details"`
}

// LayerDetail is one layer with what unpacking it found.
type LayerDetail struct {
	LayerRecord
	Present bool       `json:"present"`
	Info    *LayerInfo `json:"unpacked,omitempty"`
}

// List returns every template, sorted by reference.
func (s *Store) List() ([]Summary, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	users := layerUsers(idx)
	out := []Summary{}
	for _, rec := range idx.Images {
		sum, err := s.summary(rec, users)
		if err != nil {
			return nil, err
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

// layerUsers counts the templates that use each layer.
func layerUsers(idx *index) map[string]int {
	users := map[string]int{}
	for _, rec := range idx.Images {
		seen := map[string]bool{}
		for _, l := range rec.Layers {
			if !seen[l.DiffID] {
				users[l.DiffID]++
				seen[l.DiffID] = true
			}
		}
	}
	return users
}

func (s *Store) summary(rec *Record, users map[string]int) (Summary, error) {
	sum := Summary{Ref: rec.Ref, Name: Familiar(rec.Ref), Digest: rec.Digest, ID: rec.ID, Source: rec.Source,
		Platform: rec.Platform, Created: rec.Created, Pulled: rec.Pulled, Layers: len(rec.Layers), Complete: true,
		Owners: s.Flavour.Describe(), UsedBy: []string{}}
	seen := map[string]bool{}
	for _, l := range rec.Layers {
		if seen[l.DiffID] {
			continue
		}
		seen[l.DiffID] = true
		li, err := s.layerInfo(l.DiffID)
		if err != nil {
			sum.Complete = false
			continue
		}
		sum.Size += li.DiskSize
		sum.Squashed += li.Squashed
		if users[l.DiffID] > 1 {
			sum.Shared += li.DiskSize
		} else {
			sum.Unique += li.DiskSize
		}
	}
	if s.InUse != nil {
		u, err := s.InUse(rec.Ref)
		if err != nil {
			return sum, err
		}
		sum.UsedBy = append(sum.UsedBy, u...)
	}
	return sum, nil
}

// Inspect describes one template.
func (s *Store) Inspect(ref string) (*Details, error) {
	rec, full, err := s.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: template %s (see `paddock template ls`)", ErrNotFound, Familiar(full))
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	sum, err := s.summary(rec, layerUsers(idx))
	if err != nil {
		return nil, err
	}
	img := s.ImageOf(rec)
	d := &Details{Summary: sum, Config: rec.Config, LayerDirs: img.LayerDirs, LowerDir: img.LowerDir()}
	for _, l := range rec.Layers {
		ld := LayerDetail{LayerRecord: l}
		if li, err := s.layerInfo(l.DiffID); err == nil {
			ld.Present, ld.Info = true, &li
		}
		d.LayerRecord = append(d.LayerRecord, ld)
	}
	return d, nil
}

// Remove forgets a template and deletes its layers that no other template uses. It refuses
// (ErrInUse) while InUse names a sandbox using it.
func (s *Store) Remove(ref string) error {
	rec, full, err := s.Lookup(ref)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("%w: template %s (see `paddock template ls`)", ErrNotFound, Familiar(full))
	}
	if s.InUse != nil {
		users, err := s.InUse(full)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: %s is used by %s: remove those sandboxes first (`paddock rm %s`)",
				ErrInUse, Familiar(full), strings.Join(users, ", "), strings.Join(users, " "))
		}
	}
	unlock, err := s.lockGC(true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.updateIndex(func(idx *index) error { delete(idx.Images, full); return nil }); err != nil {
		return err
	}
	_, err = s.removeUnused()
	return err
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Layers int   `json:"layers"`
	Freed  int64 `json:"freed"`
}

// Prune deletes this flavour's layers that no template uses, and leftovers of interrupted
// unpacks and imports.
func (s *Store) Prune() (PruneReport, error) {
	unlock, err := s.lockGC(true)
	if err != nil {
		return PruneReport{}, err
	}
	defer unlock()
	rep, err := s.removeUnused()
	if entries, err := os.ReadDir(filepath.Join(s.Root, "tmp")); err == nil {
		for _, e := range entries {
			os.RemoveAll(filepath.Join(s.Root, "tmp", e.Name()))
		}
	}
	return rep, err
}

// removeUnused deletes unreferenced layers and temporary folders; call with the GC lock held
// exclusively (no unpack is running). A layer is first renamed away, so it is never seen half
// deleted.
func (s *Store) removeUnused() (PruneReport, error) {
	var rep PruneReport
	idx, err := s.readIndex()
	if err != nil {
		return rep, err
	}
	used := layerUsers(idx)
	entries, err := os.ReadDir(s.FlavourDir())
	if err != nil {
		return rep, err
	}
	var doomed []string
	for _, e := range entries {
		n := e.Name()
		p := filepath.Join(s.FlavourDir(), n)
		if strings.HasPrefix(n, ".") {
			doomed = append(doomed, p)
			continue
		}
		if used["sha256:"+n] > 0 {
			continue
		}
		if li, err := s.layerInfo("sha256:" + n); err == nil {
			rep.Freed += li.DiskSize
		}
		away := filepath.Join(s.FlavourDir(), ".rm-"+n)
		if err := os.Rename(p, away); err != nil {
			return rep, err
		}
		doomed = append(doomed, away)
		rep.Layers++
	}
	if err := s.unpacker.remove(doomed...); err != nil {
		return rep, err
	}
	// The same layers laid out for images' non-root users (Store.ForUser) go with them.
	if s.Flavour.AsUID == 0 {
		dirs, _ := os.ReadDir(filepath.Join(s.Root, "layers"))
		for _, d := range dirs {
			var uid, gid int
			rest, ok := strings.CutPrefix(d.Name(), s.Flavour.Name+"-as-")
			if !ok {
				continue
			}
			if _, err := fmt.Sscanf(rest, "%d-%d", &uid, &gid); err != nil {
				continue
			}
			f := s.Flavour.ForUser(uid, gid)
			if f.Name != d.Name() {
				continue
			}
			sub := &Store{Root: s.Root, Flavour: f, Platform: s.Platform, Fetcher: s.Fetcher, unpacker: newUnpacker(f)}
			r, err := sub.removeUnused()
			rep.Layers += r.Layers
			rep.Freed += r.Freed
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}
