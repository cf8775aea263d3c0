//go:build unix

package imagetest

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// RequireRoot fails the test when not root: privileged tests never skip silently, unless
// PADDOCK_ALLOW_SKIP_ROOT=1 says so outside CI.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("PADDOCK_ALLOW_SKIP_ROOT") == "1" && os.Getenv("CI") == "" {
			t.Skip("needs root (PADDOCK_ALLOW_SKIP_ROOT=1)")
		}
		t.Fatal("this test needs root: run the suite as root (CI does)")
	}
}

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
