package remote

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"

	it "github.com/paddockhq/paddock/internal/image/imagetest"

	"github.com/paddockhq/paddock/internal/image"
)

// checkDebianLike asserts an imported DebianLike image is complete and right.
func checkDebianLike(t *testing.T, img *image.Image, ref string) {
	t.Helper()
	if img.Ref != ref || len(img.LayerDirs) != 2 || img.Config.User != "agent" {
		t.Fatalf("imported %+v", img)
	}
	if lstat(t, filepath.Join(img.LayerDirs[0], "home/agent/.bashrc")).Uid != 1<<30+1000 {
		t.Error("owner not shifted")
	}
}

func TestImportDockerArchive(t *testing.T) {
	s := openTest(t)
	dir := t.TempDir()
	tag, _ := name.NewTag("example.com/team/debian:1")
	p := filepath.Join(dir, "save.tar")
	if err := tarball.WriteToFile(p, tag, it.DebianLike(t, runtime.GOARCH)); err != nil {
		t.Fatal(err)
	}
	img, err := s.Import(context.Background(), p, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkDebianLike(t, img, "example.com/team/debian:1")
	// Renamed on import; the cached layers are reused.
	img2, err := s.Import(context.Background(), p, "mine:2", nil)
	if err != nil || img2.Ref != "index.docker.io/library/mine:2" || img2.LowerDir() != img.LowerDir() {
		t.Fatalf("renamed import: %+v %v", img2, err)
	}
	// Compressed archives work too.
	gz := filepath.Join(dir, "save.tar.gz")
	gzipFile(t, p, gz)
	if _, err := s.Import(context.Background(), gz, "gz:1", nil); err != nil {
		t.Fatal(err)
	}
	// Two images in one archive: --name chooses.
	other, _ := name.NewTag("example.com/team/other:1")
	multi := filepath.Join(dir, "multi.tar")
	small := it.Image(t, runtime.GOARCH, v1.Config{}, it.Layer(t, it.Tar(t, it.File("a", "1", 0o644, 0))))
	if err := tarball.MultiRefWriteToFile(multi, map[name.Reference]v1.Image{tag: it.DebianLike(t, runtime.GOARCH), other: small}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(context.Background(), multi, "", nil); !errors.Is(err, image.ErrBadSource) || !strings.Contains(err.Error(), "--name") {
		t.Errorf("multi without name: %v", err)
	}
	img3, err := s.Import(context.Background(), multi, "example.com/team/other:1", nil)
	if err != nil || len(img3.LayerDirs) != 1 {
		t.Fatalf("multi with name: %+v %v", img3, err)
	}
}

func TestImportOCILayout(t *testing.T) {
	s := openTest(t)
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(it.DebianLike(t, runtime.GOARCH), layout.WithAnnotations(map[string]string{
		"io.containerd.image.name": "ghcr.io/org/deb:1", "org.opencontainers.image.ref.name": "1"})); err != nil {
		t.Fatal(err)
	}
	img, err := s.Import(context.Background(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkDebianLike(t, img, "ghcr.io/org/deb:1")
	// The same layout as a tarball.
	tf := filepath.Join(t.TempDir(), "oci.tar")
	tarDir(t, dir, tf)
	img2, err := s.Import(context.Background(), tf, "ghcr.io/org/deb:tarball", nil)
	if err != nil {
		t.Fatal(err)
	}
	if img2.Digest != img.Digest {
		t.Errorf("digests differ: %s %s", img.Digest, img2.Digest)
	}
}

func TestImportRootfs(t *testing.T) {
	s := openTest(t)
	p := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	raw := it.Tar(t, it.Dir("etc", 0o755, 0), it.File("etc/hostname", "box\n", 0o644, 0), it.File("home/u/f", "x", 0o600, 1000))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	os.WriteFile(p, buf.Bytes(), 0o644)
	if _, err := s.Import(context.Background(), p, "", nil); !errors.Is(err, image.ErrBadSource) || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("rootfs without a name: %v", err)
	}
	img, err := s.Import(context.Background(), p, "myroot", nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != "index.docker.io/library/myroot:latest" || len(img.LayerDirs) != 1 || img.Digest == "" {
		t.Fatalf("%+v", img)
	}
	if lstat(t, filepath.Join(img.LayerDirs[0], "home/u/f")).Uid != 1<<30+1000 {
		t.Error("owner")
	}
	if _, err := s.Ensure(context.Background(), "myroot", image.PullMissing, nil); err != nil {
		t.Errorf("an imported template is used without a registry: %v", err)
	}
	if _, err := s.Import(context.Background(), filepath.Join(t.TempDir(), "nope.tar"), "x", nil); !errors.Is(err, image.ErrBadSource) {
		t.Errorf("missing file: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte(strings.Repeat("junk", 300)), 0o644)
	if _, err := s.Import(context.Background(), junk, "x", nil); !errors.Is(err, image.ErrBadSource) {
		t.Errorf("junk file: %v", err)
	}
}

func TestRemoveAndInUse(t *testing.T) {
	s := openTest(t)
	p := filepath.Join(t.TempDir(), "save.tar")
	tag, _ := name.NewTag("example.com/a:1")
	tarball.WriteToFile(p, tag, it.DebianLike(t, runtime.GOARCH))
	ctx := context.Background()
	if _, err := s.Import(ctx, p, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, p, "example.com/b:1", nil); err != nil {
		t.Fatal(err)
	}
	s.InUse = func(ref string) ([]string, error) {
		if ref == "example.com/a:1" {
			return []string{"shell-proj"}, nil
		}
		return nil, nil
	}
	if err := s.Remove("example.com/a:1"); !errors.Is(err, image.ErrInUse) || !strings.Contains(err.Error(), "shell-proj") {
		t.Fatalf("in use: %v", err)
	}
	d, err := s.Inspect("example.com/a:1")
	if err != nil || len(d.UsedBy) != 1 || d.Shared == 0 || d.Unique != 0 || len(d.LayerRecord) != 2 || !d.LayerRecord[0].Present {
		t.Fatalf("inspect %+v %v", d, err)
	}
	// b shares every layer with a: removing it frees nothing.
	if err := s.Remove("example.com/b:1"); err != nil {
		t.Fatal(err)
	}
	if n := len(layerEntries(t, s)); n != 2 {
		t.Errorf("layers after removing b: %d", n)
	}
	s.InUse = nil
	if err := s.Remove("example.com/a:1"); err != nil {
		t.Fatal(err)
	}
	if n := len(layerEntries(t, s)); n != 0 {
		t.Errorf("layers left: %v", layerEntries(t, s))
	}
	if err := s.Remove("example.com/a:1"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
}

func gzipFile(t *testing.T, src, dst string) {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	os.WriteFile(dst, buf.Bytes(), 0o644)
}

func tarDir(t *testing.T, dir, out string) {
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, _ := d.Info()
		tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg})
		r, _ := os.Open(p)
		io.Copy(tw, r)
		r.Close()
		return nil
	})
	tw.Close()
}
