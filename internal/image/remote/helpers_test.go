package remote

import (
	"encoding/base64"
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/paddockhq/paddock/internal/image"
	it "github.com/paddockhq/paddock/internal/image/imagetest"
)

// requireRoot fails the test when not root: privileged tests never skip silently, unless
// PADDOCK_ALLOW_SKIP_ROOT=1 says so outside CI.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("PADDOCK_ALLOW_SKIP_ROOT") == "1" && os.Getenv("CI") == "" {
			t.Skip("needs root (PADDOCK_ALLOW_SKIP_ROOT=1)")
		}
		t.Fatal("this test needs root: run the suite as root (CI does)")
	}
}

func init() { image.SetFetcher(Fetcher{}) }

type ent = it.Ent

var (
	file     = it.File
	dir      = it.Dir
	symlink  = it.Symlink
	hardlink = it.Hardlink
	tarBytes = it.Tar
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}
func absent(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err %v)", p, err)
	}
}
