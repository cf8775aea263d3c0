package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/paddockhq/paddock/internal/flock"
	"github.com/paddockhq/paddock/internal/fsutil"
)

// indexSchema is the version of images/index.json this build writes.
const indexSchema = 1

// Store is the template cache under PADDOCK_HOME/images:
//
//	images/index.json                       references -> records (manifest digest, config, layers)
//	images/layers/<flavour>/<diffID hex>/   one unpacked layer: fs/ (the files) and layer.json
//	images/layers/<flavour>/.tmp-*          layers being unpacked (renamed into place when complete)
//	images/tmp/                             import staging
//
// The folder is 0700: setuid files in the cache are reachable by no other host user.
type Store struct {
	Root     string // PADDOCK_HOME/images
	Flavour  Flavour
	Platform Platform // the platform pulled and accepted: linux/GOARCH
	// InUse, when set, names the sandboxes that use a template (given its normalized reference);
	// Remove refuses while it names any, and List shows them. The CLI wires it to the sandbox store.
	InUse func(ref string) ([]string, error)
	// Fetcher fills the cache from registries and archives (nil: Pull and Import fail).
	Fetcher Fetcher

	unpacker unpacker
}

// Open opens (creating if needed) the template cache of the paddock state folder home, for the
// flavour of sandboxes this process starts.
func Open(home string) (*Store, error) {
	return OpenFlavour(home, CurrentFlavour())
}

// OpenFlavour opens the cache for an explicit flavour (tests, and a root process preparing
// layers for another mapping).
func OpenFlavour(home string, f Flavour) (*Store, error) {
	root := filepath.Join(home, "images")
	s := &Store{Root: root, Flavour: f, Platform: hostPlatform(), unpacker: newUnpacker(f)}
	for _, d := range []string{root, s.FlavourDir(), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating the template cache %s: %w", d, fsErr(err))
		}
	}
	os.Chmod(root, 0o700)
	return s, nil
}

// Platform is an OS, architecture and variant, as in an image index.
type Platform struct{ OS, Architecture, Variant string }

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func hostPlatform() Platform {
	p := Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// FlavourDir is the folder of this flavour's unpacked layers.
func (s *Store) FlavourDir() string { return filepath.Join(s.Root, "layers", s.Flavour.Name) }

func (s *Store) layerDir(diffID string) string {
	return filepath.Join(s.FlavourDir(), strings.TrimPrefix(diffID, "sha256:"))
}

func (s *Store) indexPath() string { return filepath.Join(s.Root, "index.json") }

// lockIndex serialises writers of index.json.
func (s *Store) lockIndex() (func(), error) { return flock.Lock(filepath.Join(s.Root, ".lock")) }

// lockGC is held shared while layers are added and exclusive while unused ones are removed, so
// prune never takes a layer a pull just unpacked and has not recorded yet.
func (s *Store) lockGC(exclusive bool) (func(), error) {
	release, _, err := flock.Acquire(filepath.Join(s.Root, ".gc"), flock.Options{Shared: !exclusive})
	return release, err
}

func (s *Store) readIndex() (*index, error) {
	idx := &index{Schema: indexSchema, Images: map[string]*Record{}}
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("the template list %s is corrupt (%v): remove it and pull again", s.indexPath(), err)
	}
	if idx.Schema > indexSchema {
		return nil, fmt.Errorf("the template list %s was written by a newer paddock (schema %d)", s.indexPath(), idx.Schema)
	}
	if idx.Images == nil {
		idx.Images = map[string]*Record{}
	}
	return idx, nil
}

// updateIndex changes index.json under its lock and writes it atomically.
func (s *Store) updateIndex(fn func(*index) error) error {
	unlock, err := s.lockIndex()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(idx); err != nil {
		return err
	}
	idx.Schema = indexSchema
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(s.indexPath(), append(b, '\n'))
}

// writeFileSync replaces path with data (mode 0600), durably.
func writeFileSync(path string, data []byte) error {
	return fsErr(fsutil.ReplaceFileSync(path, data, 0o600))
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Lookup finds the record of a reference (any form: short, full, digest) and its normalized
// form; the record is nil when the cache does not have it.
func (s *Store) Lookup(ref string) (*Record, string, error) {
	full, err := Normalize(ref)
	if err != nil {
		return nil, "", err
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, full, err
	}
	return idx.Images[full], full, nil
}

// Image is a template ready for a sandbox of this store's flavour.
type Image struct {
	Ref    string // normalized reference, e.g. index.docker.io/library/debian:bookworm
	Digest string // manifest digest (config digest for archives without a manifest)
	ID     string // config digest
	Config Config
	// LayerDirs are the unpacked layers, lowest first; each is read-only and shared by every
	// sandbox of every image that has that layer. See LowerDir for overlayfs.
	LayerDirs []string
	Flavour   Flavour
	Source    string
	Platform  string
}

// LowerDir is the overlayfs lowerdir option for the image: the top layer first, separated by
// ":" (with ":", "," and "\" in paths escaped by a backslash).
func (img *Image) LowerDir() string {
	parts := make([]string, 0, len(img.LayerDirs))
	for i := len(img.LayerDirs) - 1; i >= 0; i-- {
		p := img.LayerDirs[i]
		p = strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p)
		parts = append(parts, p)
	}
	return strings.Join(parts, ":")
}

// Get returns a cached template without any network access: ErrNotFound when the reference is
// not in the cache, or when its layers are not unpacked for this store's flavour.
func (s *Store) Get(ref string) (*Image, error) {
	rec, full, err := s.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: template %s is not in the cache (get it with `paddock template pull %s`)", ErrNotFound, Familiar(full), Familiar(full))
	}
	if missing := s.Missing(rec); len(missing) > 0 {
		return nil, fmt.Errorf("%w: %d layers of template %s are not unpacked for this user (pull or import it again)", ErrNotFound, len(missing), Familiar(full))
	}
	return s.ImageOf(rec), nil
}

// ImageOf is the template of a complete record.
func (s *Store) ImageOf(rec *Record) *Image {
	img := &Image{Ref: rec.Ref, Digest: rec.Digest, ID: rec.ID, Config: rec.Config, Flavour: s.Flavour,
		Source: rec.Source, Platform: rec.Platform}
	for _, l := range rec.Layers {
		img.LayerDirs = append(img.LayerDirs, filepath.Join(s.layerDir(l.DiffID), "fs"))
	}
	return img
}

// Missing lists the diffIDs of rec not unpacked in this flavour.
func (s *Store) Missing(rec *Record) []string {
	var out []string
	for _, l := range rec.Layers {
		if _, err := os.Stat(filepath.Join(s.layerDir(l.DiffID), "layer.json")); err != nil {
			out = append(out, l.DiffID)
		}
	}
	return out
}

// layerInfo reads what unpacking a layer found.
func (s *Store) layerInfo(diffID string) (LayerInfo, error) {
	var li LayerInfo
	b, err := os.ReadFile(filepath.Join(s.layerDir(diffID), "layer.json"))
	if err != nil {
		return li, err
	}
	return li, json.Unmarshal(b, &li)
}
