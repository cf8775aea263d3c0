package image

import (
	"encoding/base64"
	"os"
	"testing"

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

type ent = it.Ent

var (
	file     = it.File
	dir      = it.Dir
	symlink  = it.Symlink
	hardlink = it.Hardlink
	tarBytes = it.Tar
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
