package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/paddockhq/paddock/internal/testroot"
	"golang.org/x/sys/unix"
)

// mountable skips where this process cannot make mounts (CI runs as root: never skipped there).
func mountable(t *testing.T) { testroot.Require(t, "bind mounts") }

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveTreeNeverCrossesAMount(t *testing.T) {
	mountable(t)
	for _, tc := range []struct {
		name string
		file bool // a bind-mounted file rather than a folder
	}{{"folder bind mount of the same filesystem", false}, {"file bind mount", true}} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			user := filepath.Join(base, "user")   // the user's folder
			state := filepath.Join(base, "state") // a sandbox's state
			write(t, filepath.Join(user, "work.txt"), "precious")
			write(t, filepath.Join(state, "home", ".profile"), "x")
			src, target := user, filepath.Join(state, "home", "proj")
			if tc.file {
				src, target = filepath.Join(user, "work.txt"), filepath.Join(state, "home", "work.txt")
				write(t, target, "")
			} else if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
				t.Fatal(err)
			}
			defer unix.Unmount(target, unix.MNT_DETACH)
			err := RemoveTree(state)
			if !errors.Is(err, ErrMountBelow) {
				t.Fatalf("RemoveTree crossed or ignored a mount point: err = %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(user, "work.txt")); err != nil || string(b) != "precious" {
				t.Fatalf("the user's file is gone or changed: %q, %v", b, err)
			}
			if _, err := os.Stat(filepath.Join(state, "home", ".profile")); err != nil {
				t.Fatalf("a refused removal deleted something: %v", err)
			}
			// Once what was mounted below is detached, the state goes and the user's folder stays.
			if err := DetachBelow(state); err != nil {
				t.Fatal(err)
			}
			if err := RemoveTree(state); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Fatalf("state left: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(user, "work.txt")); err != nil || string(b) != "precious" {
				t.Fatalf("the user's file is gone or changed: %q, %v", b, err)
			}
		})
	}
}

func TestRemoveTree(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	write(t, filepath.Join(outside, "keep"), "keep")
	dir := filepath.Join(base, "tree")
	write(t, filepath.Join(dir, "a", "b", "c"), "c")
	os.Symlink(outside, filepath.Join(dir, "link"))
	os.Symlink(outside, filepath.Join(dir, "a", "link"))
	locked := filepath.Join(dir, "a", "locked")
	write(t, filepath.Join(locked, "f"), "f")
	os.Chmod(locked, 0)
	if err := RemoveTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("tree left: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || string(b) != "keep" {
		t.Fatalf("a symlink was followed: %q, %v", b, err)
	}
	if err := RemoveTree(dir); err != nil {
		t.Fatalf("a missing tree: %v", err)
	}
}
