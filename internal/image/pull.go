package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PullPolicy says when Ensure contacts the registry.
type PullPolicy string

const (
	PullAlways  PullPolicy = "always"  // ask the registry every time; download only what changed
	PullMissing PullPolicy = "missing" // use the cache; pull only what is not there (the default)
	PullNever   PullPolicy = "never"   // never contact a registry; fail when not cached
)

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

// Ensure returns the template ref for a sandbox of this store's flavour, pulling it as policy
// says. Progress goes to progress (bars on a terminal, lines otherwise; nil for none).
func (s *Store) Ensure(ctx context.Context, ref string, policy PullPolicy, progress io.Writer) (*Image, error) {
	if policy == "" {
		policy = PullMissing
	}
	rec, full, err := s.record(ref)
	if err != nil {
		return nil, err
	}
	complete := rec != nil && len(s.missingLayers(rec)) == 0
	switch policy {
	case PullNever:
		return s.Get(full)
	case PullMissing:
		if complete {
			return s.image(rec), nil
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

// Pull fetches ref from its registry: the manifest always, and only the layers not yet in the
// cache. A reference that still resolves to the digest already cached downloads no blob at all.
func (s *Store) Pull(ctx context.Context, ref string, progress io.Writer) (*Image, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	full := r.Name()
	p := newProgress(progress)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("paddock"), remote.WithPlatform(s.Platform)}
	desc, err := remote.Head(r, opts...)
	if err != nil || desc.Digest.Hex == "" {
		var gd *remote.Descriptor
		if gd, err = remote.Get(r, opts...); err == nil {
			desc = &gd.Descriptor
		}
	}
	if err != nil {
		return nil, classifyRemote(err, r)
	}
	rec, _, err := s.record(full)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.RemoteDigest == desc.Digest.String() && len(s.missingLayers(rec)) == 0 {
		p.line("%s: up to date (%s)", Familiar(full), rec.Digest)
		return s.image(rec), nil
	}
	img, err := s.selectRemote(r, desc, opts)
	if err != nil {
		return nil, err
	}
	rec, err = s.add(ctx, full, "registry", desc.Digest.String(), img, true, p)
	if err != nil {
		return nil, classifyRemote(err, r)
	}
	return s.image(rec), nil
}

// selectRemote picks this host's image from what the reference resolved to.
func (s *Store) selectRemote(r name.Reference, desc *v1.Descriptor, opts []remote.Option) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		img, err := remote.Image(r, opts...)
		if err != nil {
			return nil, classifyRemote(err, r)
		}
		return img, nil
	}
	idx, err := remote.Index(r, opts...)
	if err != nil {
		return nil, classifyRemote(err, r)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, classifyRemote(err, r)
	}
	var seen []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		if platformMatches(*m.Platform, s.Platform) && m.MediaType.IsImage() {
			img, err := idx.Image(m.Digest)
			if err != nil {
				return nil, classifyRemote(err, r)
			}
			return img, nil
		}
		if m.Platform.OS != "unknown" {
			seen = append(seen, m.Platform.String())
		}
	}
	return nil, fmt.Errorf("%w: %s has no image for %s (it has: %s)", ErrPlatform, Familiar(r.Name()),
		s.Platform.String(), strings.Join(seen, ", "))
}

func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	if have.Variant == "" || want.Variant == "" {
		return true
	}
	return have.Variant == want.Variant
}

// checkPlatform refuses an image built for another platform.
func (s *Store) checkPlatform(cf *v1.ConfigFile, ref string) error {
	if cf.OS == "" && cf.Architecture == "" {
		return nil
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if !platformMatches(have, s.Platform) {
		return fmt.Errorf("%w: %s is built for %s; this host needs %s", ErrPlatform, Familiar(ref), have.String(), s.Platform.String())
	}
	return nil
}

// add unpacks img's layers and records it as ref. remoteBlobs says the layers are read as
// stored (compressed, digest-checked); otherwise they are read uncompressed (archives).
func (s *Store) add(ctx context.Context, ref, source, remoteDigest string, img v1.Image, remoteBlobs bool, p *progress) (*Record, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	if err := s.checkPlatform(cf, ref); err != nil {
		return nil, err
	}
	if source == "registry" {
		p.line("pulling %s", Familiar(ref))
	} else {
		p.line("importing %s", Familiar(ref))
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the image manifest: %w", err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%w: the image has %d layers but its config lists %d", ErrBadLayer, len(layers), len(cf.RootFS.DiffIDs))
	}
	rec := &Record{Ref: ref, Source: source, RemoteDigest: remoteDigest, Platform: platformOf(cf, s.Platform),
		Created: cf.Created.Time, Pulled: time.Now().UTC(), Config: configOf(cf)}
	if id, err := img.ConfigName(); err == nil {
		rec.ID = id.String()
	}
	rec.Digest = rec.ID
	if remoteDigest != "" || source == "oci-layout" {
		if d, err := img.Digest(); err == nil {
			rec.Digest = d.String()
		}
	}
	var srcs []layerSource
	for i, l := range layers {
		ls := layerSource{diffID: cf.RootFS.DiffIDs[i].String()}
		if d, err := l.Digest(); err == nil && remoteBlobs {
			ls.digest = d.String()
		} else {
			ls.digest = ls.diffID
		}
		if remoteBlobs {
			ls.size, _ = l.Size()
			ls.open = l.Compressed
		} else {
			ls.open = l.Uncompressed
		}
		if mt, err := l.MediaType(); err == nil {
			ls.mediaType = string(mt)
		}
		srcs = append(srcs, ls)
		rec.Layers = append(rec.Layers, LayerRecord{DiffID: ls.diffID, Digest: ls.digest, Size: ls.size, MediaType: ls.mediaType})
	}
	return s.commit(ctx, rec, srcs, p)
}

// commit unpacks the layers and records rec, under the shared GC lock.
func (s *Store) commit(ctx context.Context, rec *Record, srcs []layerSource, p *progress) (*Record, error) {
	unlock, err := s.lockGC(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids, err := s.installLayers(ctx, srcs, p)
	if err != nil {
		return nil, err
	}
	for i := range rec.Layers {
		rec.Layers[i].DiffID = ids[i]
		if rec.Layers[i].Digest == "" {
			rec.Layers[i].Digest = ids[i]
		}
	}
	if rec.ID == "" {
		rec.ID = syntheticID(rec)
		rec.Digest = rec.ID
	}
	if err := s.updateIndex(func(idx *index) error { idx.Images[rec.Ref] = rec; return nil }); err != nil {
		return nil, err
	}
	var total int64
	for _, l := range rec.Layers {
		li, _ := s.layerInfo(l.DiffID)
		total += li.DiskSize
	}
	p.line("%s: %s (%d layers, %s on disk)", Familiar(rec.Ref), rec.Digest, len(rec.Layers), humanBytes(total))
	return rec, nil
}

func platformOf(cf *v1.ConfigFile, def v1.Platform) string {
	if cf.OS == "" {
		return def.String()
	}
	return (&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}).String()
}

func configOf(cf *v1.ConfigFile) Config {
	c := cf.Config
	return Config{Env: c.Env, User: c.User, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		Labels: c.Labels, StopSignal: c.StopSignal}
}

// classifyRemote turns a registry error into one line with its category.
func classifyRemote(err error, r name.Reference) error {
	if err == nil {
		return nil
	}
	for _, cat := range []error{ErrPlatform, ErrBadLayer, ErrNoSpace, ErrAuth, ErrUnreachable, ErrNotFound, context.Canceled} {
		if errors.Is(err, cat) {
			return err
		}
	}
	reg := r.Context().RegistryStr()
	img := Familiar(r.Name())
	var te *transport.Error
	if errors.As(err, &te) {
		code := ""
		if len(te.Errors) > 0 {
			code = string(te.Errors[0].Code)
		}
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
			code == string(transport.UnauthorizedErrorCode) || code == string(transport.DeniedErrorCode):
			return fmt.Errorf("%w: registry %s refused access to %s (%d %s): the image does not exist or needs a login "+
				"(`docker login %s`; paddock reads ~/.docker/config.json)", ErrAuth, reg, img, te.StatusCode, http.StatusText(te.StatusCode), reg)
		case te.StatusCode == http.StatusNotFound || code == string(transport.ManifestUnknownErrorCode) ||
			code == string(transport.NameUnknownErrorCode):
			return fmt.Errorf("%w: %s is not in registry %s", ErrNotFound, img, reg)
		}
		return fmt.Errorf("registry %s answered %d %s for %s", reg, te.StatusCode, http.StatusText(te.StatusCode), img)
	}
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &de):
		return fmt.Errorf("%w: cannot reach registry %s: no such host %s", ErrUnreachable, reg, de.Name)
	case errors.As(err, &oe):
		return fmt.Errorf("%w: cannot reach registry %s: %v", ErrUnreachable, reg, oe.Err)
	case errors.As(err, &ue) || errors.As(err, &ne):
		return fmt.Errorf("%w: cannot reach registry %s: %v", ErrUnreachable, reg, err)
	case strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "tls:"):
		return fmt.Errorf("%w: TLS with registry %s failed: %v", ErrUnreachable, reg, err)
	}
	return fmt.Errorf("pulling %s: %w", img, err)
}
