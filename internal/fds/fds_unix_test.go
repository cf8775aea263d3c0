//go:build unix

package fds

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inheritedOpen opens a file the way an inherited descriptor looks: without close-on-exec.
func inheritedOpen(t *testing.T) int {
	t.Helper()
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestSeal(t *testing.T) {
	for _, tc := range []struct {
		name string
		seal func(int) error
	}{{"Seal", Seal}, {"by list", sealByList}} {
		t.Run(tc.name, func(t *testing.T) {
			fd := inheritedOpen(t)
			before, err := Inheritable(3)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(before, fd) {
				t.Fatalf("Inheritable(3) = %v, want it to list %d (opened without close-on-exec)", before, fd)
			}
			if err := tc.seal(3); err != nil {
				t.Fatal(err)
			}
			if after, err := Inheritable(3); err != nil || len(after) != 0 {
				t.Fatalf("after sealing, Inheritable(3) = %v, %v; want none", after, err)
			}
			// What a child sees: only 0, 1, 2.
			out, err := exec.Command("/bin/sh", "-c", `cd /proc/$$/fd 2>/dev/null || cd /dev/fd; for f in *; do [ -L "$f" ] || [ -e "$f" ] && printf '%s ' "$f"; done; true`).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Fields(string(out)); slices.Contains(got, itoa(fd)) {
				t.Errorf("a child holds descriptor %d after Seal: %v", fd, got)
			}
		})
	}
}

// TestSealKeepsLow: descriptors below `from` keep their flags (a hidden command's handed ones).
func TestSealKeepsLow(t *testing.T) {
	a, b := inheritedOpen(t), inheritedOpen(t)
	lo, hi := min(a, b), max(a, b)
	if err := Seal(hi); err != nil {
		t.Fatal(err)
	}
	left, _ := Inheritable(3)
	if !slices.Contains(left, lo) || slices.Contains(left, hi) {
		t.Fatalf("Seal(%d): inheritable %v, want %d kept and %d sealed", hi, left, lo, hi)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
