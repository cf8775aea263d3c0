package remote

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

	"github.com/paddockhq/paddock/internal/image"
)

// Pull fetches ref from its registry: the manifest always, and only the layers not yet in the
// cache. A reference that still resolves to the digest already cached downloads no blob at all.
func pull(ctx context.Context, s *image.Store, ref string, progress io.Writer) (*image.Image, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	full := r.Name()
	p := image.NewProgress(progress)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("paddock"), remote.WithPlatform(platform(s))}
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
	rec, _, err := s.Lookup(full)
	if err != nil {
		return nil, err
	}
	if rec != nil && rec.RemoteDigest == desc.Digest.String() && len(s.Missing(rec)) == 0 {
		p.Line("%s: up to date (%s)", image.Familiar(full), rec.Digest)
		return s.ImageOf(rec), nil
	}
	img, err := selectRemote(s, r, desc, opts)
	if err != nil {
		return nil, err
	}
	rec, err = add(ctx, s, full, "registry", desc.Digest.String(), img, true, p)
	if err != nil {
		return nil, classifyRemote(err, r)
	}
	return s.ImageOf(rec), nil
}

// selectRemote picks this host's image from what the reference resolved to.
func selectRemote(s *image.Store, r name.Reference, desc *v1.Descriptor, opts []remote.Option) (v1.Image, error) {
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
		if platformMatches(*m.Platform, platform(s)) && m.MediaType.IsImage() {
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
	return nil, fmt.Errorf("%w: %s has no image for %s (it has: %s)", image.ErrPlatform, image.Familiar(r.Name()),
		platform(s).String(), strings.Join(seen, ", "))
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
func checkPlatform(s *image.Store, cf *v1.ConfigFile, ref string) error {
	if cf.OS == "" && cf.Architecture == "" {
		return nil
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if !platformMatches(have, platform(s)) {
		return fmt.Errorf("%w: %s is built for %s; this host needs %s", image.ErrPlatform, image.Familiar(ref), have.String(), platform(s).String())
	}
	return nil
}

// add unpacks img's layers and records it as ref. remoteBlobs says the layers are read as
// stored (compressed, digest-checked); otherwise they are read uncompressed (archives).
func add(ctx context.Context, s *image.Store, ref, source, remoteDigest string, img v1.Image, remoteBlobs bool, p *image.Progress) (*image.Record, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	if err := checkPlatform(s, cf, ref); err != nil {
		return nil, err
	}
	if source == "registry" {
		p.Line("pulling %s", image.Familiar(ref))
	} else {
		p.Line("importing %s", image.Familiar(ref))
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading the image manifest: %w", err)
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%w: the image has %d layers but its config lists %d", image.ErrBadLayer, len(layers), len(cf.RootFS.DiffIDs))
	}
	rec := &image.Record{Ref: ref, Source: source, RemoteDigest: remoteDigest, Platform: platformOf(cf, platform(s)),
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
	var srcs []image.LayerSource
	for i, l := range layers {
		ls := image.LayerSource{DiffID: cf.RootFS.DiffIDs[i].String(), Decompress: decompress}
		if d, err := l.Digest(); err == nil && remoteBlobs {
			ls.Digest = d.String()
		} else {
			ls.Digest = ls.DiffID
		}
		if remoteBlobs {
			ls.Size, _ = l.Size()
			ls.Open = l.Compressed
		} else {
			ls.Open = l.Uncompressed
		}
		if mt, err := l.MediaType(); err == nil {
			ls.MediaType = string(mt)
		}
		srcs = append(srcs, ls)
		rec.Layers = append(rec.Layers, image.LayerRecord{DiffID: ls.DiffID, Digest: ls.Digest, Size: ls.Size, MediaType: ls.MediaType})
	}
	return s.Commit(ctx, rec, srcs, p)
}

func platformOf(cf *v1.ConfigFile, def v1.Platform) string {
	if cf.OS == "" {
		return def.String()
	}
	return (&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}).String()
}

func configOf(cf *v1.ConfigFile) image.Config {
	c := cf.Config
	return image.Config{Env: c.Env, User: c.User, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		Labels: c.Labels, StopSignal: c.StopSignal}
}

// classifyRemote turns a registry error into one line with its category.
func classifyRemote(err error, r name.Reference) error {
	if err == nil {
		return nil
	}
	for _, cat := range []error{image.ErrPlatform, image.ErrBadLayer, image.ErrNoSpace, image.ErrAuth, image.ErrUnreachable, image.ErrNotFound, context.Canceled} {
		if errors.Is(err, cat) {
			return err
		}
	}
	reg := r.Context().RegistryStr()
	img := image.Familiar(r.Name())
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
				"(`docker login %s`; paddock reads ~/.docker/config.json)", image.ErrAuth, reg, img, te.StatusCode, http.StatusText(te.StatusCode), reg)
		case te.StatusCode == http.StatusNotFound || code == string(transport.ManifestUnknownErrorCode) ||
			code == string(transport.NameUnknownErrorCode):
			return fmt.Errorf("%w: %s is not in registry %s", image.ErrNotFound, img, reg)
		}
		return fmt.Errorf("registry %s answered %d %s for %s", reg, te.StatusCode, http.StatusText(te.StatusCode), img)
	}
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	var de *net.DNSError
	switch {
	case errors.As(err, &de):
		return fmt.Errorf("%w: cannot reach registry %s: no such host %s", image.ErrUnreachable, reg, de.Name)
	case errors.As(err, &oe):
		return fmt.Errorf("%w: cannot reach registry %s: %v", image.ErrUnreachable, reg, oe.Err)
	case errors.As(err, &ue) || errors.As(err, &ne):
		return fmt.Errorf("%w: cannot reach registry %s: %v", image.ErrUnreachable, reg, err)
	case strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "tls:"):
		return fmt.Errorf("%w: TLS with registry %s failed: %v", image.ErrUnreachable, reg, err)
	}
	return fmt.Errorf("pulling %s: %w", img, err)
}

func parseRef(ref string) (name.Reference, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%w: empty", image.ErrBadRef)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", image.ErrBadRef, ref, err)
	}
	return r, nil
}

// platform is the store's platform as the registry client spells it.
func platform(s *image.Store) v1.Platform {
	return v1.Platform{OS: s.Platform.OS, Architecture: s.Platform.Architecture, Variant: s.Platform.Variant}
}
