package image

import (
	"context"
	"fmt"
	"io"
)

// PullPolicy says when Ensure contacts the registry.
type PullPolicy string

const (
	PullAlways  PullPolicy = "always"  // ask the registry every time; download only what changed
	PullMissing PullPolicy = "missing" // use the cache; pull only what is not there (the default)
	PullNever   PullPolicy = "never"   // never contact a registry; fail when not cached
)

// DockerPrefix marks an import from the local Docker engine: "docker://debian:bookworm".
const DockerPrefix = "docker://"

// ParsePullPolicy reads a --pull value ("" is missing).
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch PullPolicy(s) {
	case "":
		return PullMissing, nil
	case PullAlways, PullMissing, PullNever:
		return PullPolicy(s), nil
	}
	return "", fmt.Errorf("%w: --pull %q: use always, missing or never", ErrBadRef, s)
}

// A Fetcher fills the cache from registries, archives and Docker engines. The implementation,
// internal/image/remote, links the registry client and the compression libraries; only the
// paddock-oci binary carries it, because every paddock process would otherwise pay for their
// initialisation (about a millisecond) on every exec. paddock registers a Fetcher that hands
// the whole command to paddock-oci. The binary gives it to the store (Store.Fetcher).
type Fetcher interface {
	// Pull fetches ref from its registry: the manifest always, and only the layers not yet in
	// the cache.
	Pull(ctx context.Context, s *Store, ref string, progress io.Writer) (*Image, error)
	// Import adds a template from a `docker save` tarball, an OCI layout (folder or tarball), a
	// plain rootfs tarball (then name is required), or "docker://IMAGE" from the local engine.
	Import(ctx context.Context, s *Store, src, name string, progress io.Writer) (*Image, error)
}

func (s *Store) needFetcher() error {
	if s.Fetcher == nil {
		return fmt.Errorf("this build of paddock cannot fetch images (no fetcher given to the template store)")
	}
	return nil
}

// Pull fetches ref from its registry through the store's Fetcher.
func (s *Store) Pull(ctx context.Context, ref string, progress io.Writer) (*Image, error) {
	if err := s.needFetcher(); err != nil {
		return nil, err
	}
	return s.Fetcher.Pull(ctx, s, ref, progress)
}

// Import adds a template from src through the store's Fetcher (see Fetcher.Import).
func (s *Store) Import(ctx context.Context, src, name string, progress io.Writer) (*Image, error) {
	if err := s.needFetcher(); err != nil {
		return nil, err
	}
	return s.Fetcher.Import(ctx, s, src, name, progress)
}

// Ensure returns the template ref for a sandbox of this store's flavour, pulling it as policy
// says. Progress goes to progress (bars on a terminal, lines otherwise; nil for none). A cached,
// complete template needs no Fetcher.
func (s *Store) Ensure(ctx context.Context, ref string, policy PullPolicy, progress io.Writer) (*Image, error) {
	if policy == "" {
		policy = PullMissing
	}
	rec, full, err := s.Lookup(ref)
	if err != nil {
		return nil, err
	}
	complete := rec != nil && len(s.Missing(rec)) == 0
	switch policy {
	case PullNever:
		return s.Get(full)
	case PullMissing:
		if complete {
			return s.ImageOf(rec), nil
		}
		if rec != nil && rec.Source != "registry" {
			return nil, fmt.Errorf("%w: the layers of %s (imported from a %s) are not unpacked for this user: import it again",
				ErrNotFound, Familiar(full), rec.Source)
		}
	case PullAlways:
	default:
		return nil, fmt.Errorf("%w: pull policy %q", ErrBadRef, policy)
	}
	return s.Pull(ctx, full, progress)
}
