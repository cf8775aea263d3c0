//go:build unix

package imagetest

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/paddockhq/paddock/internal/testroot"
)

// RequireRoot stops the test when not root: it fails in CI, skips elsewhere (internal/testroot).
func RequireRoot(t testing.TB) { testroot.Require(t, "unpacking layers with their owners") }

// Lstat is the raw lstat of p; the test fails when there is none.
func Lstat(t testing.TB, p string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

// Absent checks that nothing is at p.
func Absent(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err %v)", p, err)
	}
}
