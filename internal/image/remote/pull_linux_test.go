package remote

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	it "github.com/paddockhq/paddock/internal/image/imagetest"

	"github.com/paddockhq/paddock/internal/image"
)

func openTest(t *testing.T) *image.Store {
	t.Helper()
	requireRoot(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials unless a test writes some
	s, err := image.OpenFlavour(t.TempDir(), image.CurrentFlavour())
	if err != nil {
		t.Fatal(err)
	}
	s.Fetcher = Fetcher{}
	return s
}

// layerDirs lists what is in the flavour's layer folder (temporary folders included).
func layerEntries(t *testing.T, s *image.Store) []string {
	entries, _ := os.ReadDir(s.FlavourDir())
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestPullTwiceDownloadsNothing(t *testing.T) {
	s := openTest(t)
	reg := it.NewRegistry(t)
	ref := reg.Push(t, "test/debian:bookworm", it.DebianLike(t, runtime.GOARCH))
	ctx := context.Background()
	img, err := s.Ensure(ctx, ref, image.PullMissing, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := reg.BlobGets.Load()
	if first != 3 { // config and two layers
		t.Errorf("first pull fetched %d blobs, want 3", first)
	}
	if len(img.LayerDirs) != 2 || img.Config.User != "agent" || img.Config.WorkingDir != "/home/agent" || !strings.HasPrefix(img.Digest, "sha256:") {
		t.Fatalf("image %+v", img)
	}
	for _, policy := range []image.PullPolicy{image.PullMissing, image.PullNever, image.PullAlways} {
		again, err := s.Ensure(ctx, ref, policy, nil)
		if err != nil {
			t.Fatal(policy, err)
		}
		if again.Digest != img.Digest || again.LowerDir() != img.LowerDir() {
			t.Errorf("%s: another image: %+v", policy, again)
		}
	}
	if n := reg.BlobGets.Load(); n != first {
		t.Errorf("second pulls fetched %d blobs", n-first)
	}
	// The same layers under another name are not downloaded again either (only the config).
	ref2 := strings.Replace(ref, "test/debian", "test/other", 1)
	reg.Push(t, "test/other:bookworm", it.DebianLike(t, runtime.GOARCH))
	before := reg.BlobGets.Load()
	if _, err := s.Pull(ctx, ref2, nil); err != nil {
		t.Fatal(err)
	}
	if n := reg.BlobGets.Load() - before; n != 1 {
		t.Errorf("a second image with the same layers fetched %d blobs, want 1 (its config)", n)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
	if list[0].Shared != list[0].Size || list[0].Unique != 0 || list[0].Size < 4096 {
		t.Errorf("sizes: %+v", list[0])
	}
}

func TestPullContentAndOverlay(t *testing.T) {
	s := openTest(t)
	reg := it.NewRegistry(t)
	ref := reg.Push(t, "test/debian:1", it.DebianLike(t, runtime.GOARCH))
	img, err := s.Ensure(context.Background(), ref, image.PullMissing, nil)
	if err != nil {
		t.Fatal(err)
	}
	base, top := img.LayerDirs[0], img.LayerDirs[1]
	st := lstat(t, filepath.Join(base, "home/agent/.bashrc"))
	if st.Uid != 1<<30+1000 {
		t.Errorf(".bashrc owner %d", st.Uid)
	}
	if lstat(t, filepath.Join(base, "usr/bin/sudo")).Mode&syscall.S_ISUID == 0 {
		t.Error("sudo lost setuid")
	}
	absent(t, filepath.Join(base, "dev/null"))
	if lstat(t, filepath.Join(top, "etc/os-release")).Mode&syscall.S_IFMT != syscall.S_IFCHR {
		t.Error("no whiteout for os-release")
	}
	// Mount the layers as the engine will (root mode: overlay by real root) and look.
	merged := t.TempDir()
	upper, work := t.TempDir(), t.TempDir()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // this thread ends with its private mount namespace
		done <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return err
			}
			opts := "lowerdir=" + img.LowerDir() + ",upperdir=" + upper + ",workdir=" + work
			if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(merged, "etc/os-release")); !errors.Is(err, os.ErrNotExist) {
				return errors.New("etc/os-release is visible through its whiteout")
			}
			if _, err := os.Stat(filepath.Join(merged, "etc/passwd")); err != nil {
				return err
			}
			names, _ := os.ReadDir(filepath.Join(merged, "home/agent"))
			if len(names) != 1 || names[0].Name() != "new" {
				return errors.New("home/agent is not opaque: " + strings.Join(dirNames(names), " "))
			}
			if b, err := os.ReadFile(filepath.Join(merged, "bin/sh")); err != nil || string(b) != "#!/bin/true\n" {
				return errors.New("bin/sh through the usr merge symlink: " + string(b))
			}
			return unix.Unmount(merged, 0)
		}()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func dirNames(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestPullPolicies(t *testing.T) {
	s := openTest(t)
	reg := it.NewRegistry(t)
	ref := reg.Host + "/test/p:1"
	if _, err := s.Ensure(context.Background(), ref, image.PullNever, nil); !errors.Is(err, image.ErrNotFound) {
		t.Fatalf("never, not cached: %v", err)
	}
	if reg.BlobGets.Load() != 0 {
		t.Error("never contacted the registry")
	}
	if _, err := image.ParsePullPolicy("sometimes"); !errors.Is(err, image.ErrBadRef) {
		t.Errorf("bad policy: %v", err)
	}
	reg.Push(t, "test/p:1", it.Image(t, runtime.GOARCH, v1.Config{}, it.Layer(t, it.Tar(t, it.File("a", "1", 0o644, 0)))))
	img1, err := s.Ensure(context.Background(), ref, image.PullMissing, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The tag moves: missing keeps the cached image, always takes the new one.
	reg.Push(t, "test/p:1", it.Image(t, runtime.GOARCH, v1.Config{}, it.Layer(t, it.Tar(t, it.File("a", "2", 0o644, 0)))))
	img2, err := s.Ensure(context.Background(), ref, image.PullMissing, nil)
	if err != nil || img2.Digest != img1.Digest {
		t.Fatalf("missing re-pulled: %v", err)
	}
	img3, err := s.Ensure(context.Background(), ref, image.PullAlways, nil)
	if err != nil || img3.Digest == img1.Digest {
		t.Fatalf("always kept the old image: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(img3.LayerDirs[0], "a")); string(b) != "2" {
		t.Errorf("content %q", b)
	}
	// The old layer is unused now: prune removes it, and only it.
	rep, err := s.Prune()
	if err != nil || rep.Layers != 1 {
		t.Fatalf("prune %+v %v", rep, err)
	}
	if _, err := s.Get(ref); err != nil {
		t.Fatal(err)
	}
}

func TestPullErrors(t *testing.T) {
	s := openTest(t)
	reg := it.NewRegistry(t)
	arm := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	other := it.Image(t, arm, v1.Config{}, it.Layer(t, it.Tar(t, it.File("a", "1", 0o644, 0))))
	reg.Push(t, "test/foreign:1", other)
	reg.PushIndex(t, "test/multi:1", map[string]v1.Image{"linux/" + arm: other, "linux/s390x": other})
	reg.Push(t, "private/img:1", it.DebianLike(t, runtime.GOARCH))
	ctx := context.Background()
	cases := []struct {
		ref  string
		cat  error
		want string
	}{
		{reg.Host + "/test/foreign:1", image.ErrPlatform, "is built for linux/" + arm},
		{reg.Host + "/test/multi:1", image.ErrPlatform, "has no image for linux/" + runtime.GOARCH},
		{reg.Host + "/test/missing:1", image.ErrNotFound, "is not in registry"},
		{reg.Host + "/private/img:1", image.ErrAuth, "refused access"},
		{"127.0.0.1:1/test/x:1", image.ErrUnreachable, "cannot reach registry 127.0.0.1:1"},
		{"Bad Ref", image.ErrBadRef, "invalid image reference"},
	}
	for _, c := range cases {
		start := time.Now()
		_, err := s.Pull(ctx, c.ref, nil)
		t.Logf("%s: %v", c.ref, err)
		if !errors.Is(err, c.cat) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want %v containing %q", c.ref, err, c.cat, c.want)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%s took %v", c.ref, time.Since(start))
		}
	}
	// With credentials in ~/.docker/config.json the private image pulls; wrong ones are refused.
	write := func(user, pwd string) {
		cfg := `{"auths":{"` + reg.Host + `":{"auth":"` + b64(user+":"+pwd) + `"}}}`
		os.WriteFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), []byte(cfg), 0o600)
	}
	write("alice", "wrong")
	if _, err := s.Pull(ctx, reg.Host+"/private/img:1", nil); !errors.Is(err, image.ErrAuth) {
		t.Errorf("wrong password: %v", err)
	}
	write("alice", "s3cret")
	if _, err := s.Pull(ctx, reg.Host+"/private/img:1", nil); err != nil {
		t.Errorf("with credentials: %v", err)
	}
	if n := len(layerEntries(t, s)); n != 2 {
		t.Errorf("layer folder holds %v", layerEntries(t, s))
	}
}

func TestPullBrokenLayersLeaveNothing(t *testing.T) {
	s := openTest(t)
	reg := it.NewRegistry(t)
	good := it.Layer(t, it.Tar(t, it.File("ok", "ok", 0o644, 0)))
	// A layer whose tar itself is cut short (the registry serves it faithfully).
	raw := it.Tar(t, it.File("big", strings.Repeat("x", 100000), 0o644, 0))
	broken := it.Layer(t, raw[:50000])
	reg.Push(t, "test/broken:1", it.Image(t, runtime.GOARCH, v1.Config{}, good, broken))
	// A layer that the registry cuts short on the wire.
	cut := it.Layer(t, it.Tar(t, it.File("c", strings.Repeat("y", 300000), 0o644, 0)), tarball.WithCompressionLevel(0))
	d, _ := cut.Digest()
	reg.Push(t, "test/cut:1", it.Image(t, runtime.GOARCH, v1.Config{}, cut))
	reg.Truncate(d.String())
	// zstd layers unpack like gzip ones.
	z := it.Layer(t, it.Tar(t, it.File("z", "zstd", 0o644, 0)), tarball.WithCompression("zstd"))
	reg.Push(t, "test/zstd:1", it.Image(t, runtime.GOARCH, v1.Config{}, z))
	ctx := context.Background()
	for _, ref := range []string{"test/broken:1", "test/cut:1"} {
		_, err := s.Pull(ctx, reg.Host+"/"+ref, nil)
		t.Logf("%s: %v", ref, err)
		if !errors.Is(err, image.ErrBadLayer) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v", ref, err)
		}
		if _, err := s.Get(reg.Host + "/" + ref); !errors.Is(err, image.ErrNotFound) {
			t.Errorf("%s was recorded: %v", ref, err)
		}
	}
	for _, e := range layerEntries(t, s) {
		if strings.HasPrefix(e, ".") {
			t.Errorf("partial layer left: %s", e)
		}
	}
	img, err := s.Pull(ctx, reg.Host+"/test/zstd:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(img.LayerDirs[0], "z")); string(b) != "zstd" {
		t.Errorf("zstd content %q", b)
	}
}

// TestPullDiskFull: a full disk under PADDOCK_HOME fails with one line and leaves no partial layer.
func TestPullDiskFull(t *testing.T) {
	requireRoot(t)
	home := t.TempDir()
	if err := unix.Mount("tmpfs", home, "tmpfs", 0, "size=512k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(home, unix.MNT_DETACH) })
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	s, err := image.OpenFlavour(home, image.CurrentFlavour())
	if err != nil {
		t.Fatal(err)
	}
	s.Fetcher = Fetcher{}
	big := make([]byte, 2<<20)
	rand.Read(big)
	reg := it.NewRegistry(t)
	ref := reg.Push(t, "test/big:1", it.Image(t, runtime.GOARCH, v1.Config{},
		it.Layer(t, it.Tar(t, it.File("big", string(big), 0o644, 0)))))
	_, err = s.Pull(context.Background(), ref, nil)
	if !errors.Is(err, image.ErrNoSpace) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want image.ErrNoSpace, got %v", err)
	}
	t.Log(err)
	entries, _ := os.ReadDir(s.FlavourDir())
	if len(entries) != 0 {
		t.Errorf("left in the cache: %v", entries)
	}
}
