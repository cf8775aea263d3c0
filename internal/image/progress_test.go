package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	goruntime "runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	it "github.com/paddockhq/paddock/internal/image/imagetest"
)

func TestProgressOutput(t *testing.T) {
	var plain bytes.Buffer
	p := newProgress(&plain)
	b := p.bar("abc", 100)
	b.Write(make([]byte, 60))
	b.finish("done")
	if plain.String() != "abc: done\n" {
		t.Errorf("plain output %q", plain.String())
	}
	var tty bytes.Buffer
	p = &progress{w: &tty, tty: true, width: 80}
	b1, b2 := p.bar("layer1", 100), p.bar("layer2", 200)
	b1.Write(make([]byte, 50))
	b2.set("downloading")
	b1.finish("done")
	out := tty.String()
	if !strings.Contains(out, "[====================") || !strings.Contains(out, "\x1b[2A") || !strings.Contains(out, "layer1  done") {
		t.Errorf("terminal output %q", out)
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
	s, err := OpenFlavour(home, rootTest)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2<<20)
	rand.Read(big)
	reg := it.NewRegistry(t)
	ref := reg.Push(t, "test/big:1", it.Image(t, goruntime.GOARCH, v1.Config{},
		it.Layer(t, it.Tar(t, it.File("big", string(big), 0o644, 0)))))
	_, err = s.Pull(context.Background(), ref, nil)
	if !errors.Is(err, ErrNoSpace) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want ErrNoSpace, got %v", err)
	}
	t.Log(err)
	entries, _ := os.ReadDir(s.flavourDir())
	if len(entries) != 0 {
		t.Errorf("left in the cache: %v", entries)
	}
}
