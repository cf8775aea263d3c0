package remote

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/paddockhq/paddock/internal/image"
)

// Import adds a template from src: a `docker save` tarball, an OCI layout (folder or tarball),
// a plain rootfs tarball (then name is required), or "docker://IMAGE" from the local Docker
// engine (DOCKER_HOST, else /var/run/docker.sock). Tarballs may be gzip or zstd compressed.
// name, when given, is the template's reference (and picks the image of an archive that holds
// several); otherwise the archive's own tag is used.
func importImage(ctx context.Context, s *image.Store, src, name string, progress io.Writer) (*image.Image, error) {
	p := image.NewProgress(progress)
	if name != "" {
		full, err := image.Normalize(name)
		if err != nil {
			return nil, err
		}
		name = full
	}
	staging, err := os.MkdirTemp(filepath.Join(s.Root, "tmp"), "import-")
	if err != nil {
		return nil, image.FSErr(err)
	}
	defer os.RemoveAll(staging)
	if img, ok := strings.CutPrefix(src, image.DockerPrefix); ok {
		if name == "" {
			if name, err = image.Normalize(img); err != nil {
				return nil, err
			}
		}
		file := filepath.Join(staging, "engine.tar")
		p.Line("exporting %s from the Docker engine", img)
		if err := engineSave(ctx, img, file); err != nil {
			return nil, err
		}
		return importDockerArchive(ctx, s, file, name, "docker-engine", p)
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", image.ErrBadSource, err)
	}
	if st.IsDir() {
		return importLayout(ctx, s, src, name, p)
	}
	file, err := plainTar(src, staging)
	if err != nil {
		return nil, err
	}
	kind, err := archiveKind(file)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "docker-archive":
		return importDockerArchive(ctx, s, file, name, kind, p)
	case "oci-layout":
		dir := filepath.Join(staging, "layout")
		if err := unpackLayout(file, dir); err != nil {
			return nil, err
		}
		return importLayout(ctx, s, dir, name, p)
	}
	return importRootfs(ctx, s, file, name, p)
}

// plainTar returns an uncompressed tar of src, decompressing it into staging when needed.
func plainTar(src, staging string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("%w: %v", image.ErrBadSource, err)
	}
	defer f.Close()
	r, done, err := decompress(f)
	if err != nil {
		return "", fmt.Errorf("%w %s: %v", image.ErrBadSource, src, err)
	}
	defer done()
	var magic [2]byte
	f2, _ := os.Open(src)
	n, _ := io.ReadFull(f2, magic[:])
	f2.Close()
	if n == 2 && !(magic[0] == 0x1f && magic[1] == 0x8b) && !(magic[0] == 0x28 && magic[1] == 0xb5) {
		return src, nil
	}
	out := filepath.Join(staging, "input.tar")
	w, err := os.Create(out)
	if err != nil {
		return "", image.FSErr(err)
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return "", fmt.Errorf("%w %s: decompressing: %v", image.ErrBadSource, src, image.FSErr(err))
	}
	return out, w.Close()
}

// archiveKind tells a docker save tarball (manifest.json) from an OCI layout tarball (oci-layout,
// index.json) and a plain rootfs, from the names of its entries.
func archiveKind(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("%w: %v", image.ErrBadSource, err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	oci := false
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if n == 0 {
				return "", fmt.Errorf("%w %s: not a tar archive, an OCI layout or docker://IMAGE", image.ErrBadSource, file)
			}
			return "", fmt.Errorf("%w %s: %v", image.ErrBadSource, file, err)
		}
		switch path.Clean(strings.TrimPrefix(hdr.Name, "./")) {
		case "manifest.json":
			return "docker-archive", nil
		case "oci-layout":
			oci = true
		}
	}
	if oci {
		return "oci-layout", nil
	}
	return "rootfs", nil
}

var layoutName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(oci-layout|index\.json|blobs/[a-z0-9]+/[a-f0-9]{32,128})$`)
})

// unpackLayout extracts the files of an OCI layout tarball (and nothing else) into dir.
func unpackLayout(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w %s: %v", image.ErrBadSource, file, err)
		}
		n := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if hdr.Typeflag != tar.TypeReg || !layoutName().MatchString(n) {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return image.FSErr(err)
		}
		w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return image.FSErr(err)
		}
		_, err = io.Copy(w, tr)
		w.Close()
		if err != nil {
			return fmt.Errorf("%w %s: %v", image.ErrBadSource, file, image.FSErr(err))
		}
	}
}

func importDockerArchive(ctx context.Context, s *image.Store, file, ref, source string, p *image.Progress) (*image.Image, error) {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(file) })
	if err != nil {
		return nil, fmt.Errorf("%w %s: reading manifest.json: %v", image.ErrBadSource, file, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%w %s: the archive holds no image", image.ErrBadSource, file)
	}
	var tag *name.Tag
	var all []string
	for _, d := range m {
		all = append(all, d.RepoTags...)
	}
	switch {
	case len(m) == 1 && ref == "" && len(m[0].RepoTags) == 0:
		return nil, fmt.Errorf("%w %s: the image has no tag: name it with --name REF", image.ErrBadSource, file)
	case len(m) == 1 && ref == "":
		t, err := name.NewTag(m[0].RepoTags[0])
		if err != nil {
			return nil, fmt.Errorf("%w %s: tag %q: %v", image.ErrBadSource, file, m[0].RepoTags[0], err)
		}
		ref = t.Name()
	case len(m) > 1:
		if ref == "" {
			return nil, fmt.Errorf("%w %s: the archive holds %d images (%s): choose one with --name REF", image.ErrBadSource, file, len(m), strings.Join(all, ", "))
		}
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("%w: --name %s: %v", image.ErrBadRef, ref, err)
		}
		found := false
		for _, d := range m {
			for _, rt := range d.RepoTags {
				if x, err := name.NewTag(rt); err == nil && x.Name() == t.Name() {
					found = true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("%w %s: no image tagged %s in the archive (it has %s)", image.ErrBadSource, file, image.Familiar(ref), strings.Join(all, ", "))
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(file, tag)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", image.ErrBadSource, file, err)
	}
	rec, err := add(ctx, s, ref, source, "", img, false, p)
	if err != nil {
		return nil, err
	}
	return s.ImageOf(rec), nil
}

// layoutImage is one image of an OCI layout, with the name its annotations give.
type layoutImage struct {
	name string
	img  v1.Image
}

func importLayout(ctx context.Context, s *image.Store, dir, ref string, p *image.Progress) (*image.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%w %s: not an OCI layout (%v)", image.ErrBadSource, dir, err)
	}
	var found []layoutImage
	var other []string
	var walk func(ii v1.ImageIndex, inherited string, depth int) error
	walk = func(ii v1.ImageIndex, inherited string, depth int) error {
		im, err := ii.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			n := inherited
			if a := d.Annotations["io.containerd.image.name"]; a != "" {
				n = a
			} else if a := d.Annotations["org.opencontainers.image.ref.name"]; a != "" && strings.ContainsAny(a, "/:") {
				n = a
			}
			switch {
			case d.MediaType.IsIndex() && depth < 4:
				child, err := ii.ImageIndex(d.Digest)
				if err != nil {
					return err
				}
				if err := walk(child, n, depth+1); err != nil {
					return err
				}
			case d.MediaType.IsImage():
				if d.Platform != nil && !platformMatches(*d.Platform, platform(s)) {
					if d.Platform.OS != "unknown" {
						other = append(other, d.Platform.String())
					}
					continue
				}
				img, err := ii.Image(d.Digest)
				if err != nil {
					return err
				}
				found = append(found, layoutImage{name: n, img: img})
			}
		}
		return nil
	}
	if err := walk(idx, "", 0); err != nil {
		return nil, fmt.Errorf("%w %s: %v", image.ErrBadSource, dir, err)
	}
	if len(found) == 0 {
		if len(other) > 0 {
			return nil, fmt.Errorf("%w: the OCI layout %s has no image for %s (it has: %s)", image.ErrPlatform, dir, platform(s).String(), strings.Join(other, ", "))
		}
		return nil, fmt.Errorf("%w %s: the OCI layout holds no image", image.ErrBadSource, dir)
	}
	chosen := found[0]
	if len(found) > 1 {
		var names []string
		ok := false
		for _, f := range found {
			nn, _ := image.Normalize(f.name)
			names = append(names, f.name)
			if ref != "" && nn == ref {
				chosen, ok = f, true
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w %s: the OCI layout holds %d images (%s): choose one with --name REF",
				image.ErrBadSource, dir, len(found), strings.Join(names, ", "))
		}
	}
	if ref == "" {
		if chosen.name == "" {
			return nil, fmt.Errorf("%w %s: the image has no name: name it with --name REF", image.ErrBadSource, dir)
		}
		n, err := image.Normalize(chosen.name)
		if err != nil {
			return nil, err
		}
		ref = n
	}
	rec, err := add(ctx, s, ref, "oci-layout", "", chosen.img, false, p)
	if err != nil {
		return nil, err
	}
	return s.ImageOf(rec), nil
}

// importRootfs makes a one-layer template of a plain root filesystem tarball.
func importRootfs(ctx context.Context, s *image.Store, file, ref string, p *image.Progress) (*image.Image, error) {
	if ref == "" {
		return nil, fmt.Errorf("%w %s: a plain rootfs tarball needs a name: --name REF", image.ErrBadSource, file)
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", image.ErrBadSource, err)
	}
	p.Line("importing %s as %s", file, image.Familiar(ref))
	rec := &image.Record{Ref: ref, Source: "rootfs", Platform: platform(s).String(), Created: time.Now().UTC(), Pulled: time.Now().UTC(),
		Config: image.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		Layers: []image.LayerRecord{{Size: st.Size(), MediaType: "application/vnd.oci.image.layer.v1.tar"}}}
	src := image.LayerSource{Size: st.Size(), Decompress: decompress, Open: func() (io.ReadCloser, error) { return os.Open(file) }}
	rec, err = s.Commit(ctx, rec, []image.LayerSource{src}, p)
	if err != nil {
		return nil, err
	}
	return s.ImageOf(rec), nil
}
