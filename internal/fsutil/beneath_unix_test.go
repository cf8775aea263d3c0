//go:build unix

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostileRoot is a folder as a sandbox could leave it, beside a canary outside it that nothing
// may read or change through it.
func hostileRoot(t *testing.T) (root, canary string) {
	t.Helper()
	base := t.TempDir()
	outside := filepath.Join(base, "host")
	root = filepath.Join(base, "root")
	for _, d := range []string{outside, root, filepath.Join(root, "real")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	canary = filepath.Join(outside, "passwd")
	os.WriteFile(canary, []byte("host canary\n"), 0o644)
	os.WriteFile(filepath.Join(root, "real", "passwd"), []byte("image's own\n"), 0o644)
	os.Symlink(outside, filepath.Join(root, "etc"))                     // a folder link out
	os.Symlink("real", filepath.Join(root, "inside"))                   // a folder link within
	os.Symlink(canary, filepath.Join(root, "real", "settings.json"))    // a file link out
	os.Symlink("../../host/passwd", filepath.Join(root, "real", "rel")) // a relative link out
	if err := unix.Mkfifo(filepath.Join(root, "real", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "real", "big"), make([]byte, 4096), 0o644)
	return root, canary
}

func TestReadFileBeneath(t *testing.T) {
	for _, impl := range []struct {
		name string
		open func(root, rel string, flag int, perm os.FileMode) (*os.File, error)
	}{{"openat2", openBeneath}, {"walk", walkBeneath}} {
		t.Run(impl.name, func(t *testing.T) {
			root, _ := hostileRoot(t)
			for _, tc := range []struct {
				rel  string
				want string
				err  error
			}{
				{"real/passwd", "image's own\n", nil},
				{"etc/passwd", "", ErrUnsafePath},
				{"inside/passwd", "", ErrUnsafePath},
				{"real/settings.json", "", ErrUnsafePath},
				{"real/rel", "", ErrUnsafePath},
				{"../host/passwd", "", ErrUnsafePath},
				{"/etc/passwd", "", ErrUnsafePath},
				{"real/fifo", "", ErrNotRegular},
				{"real", "", ErrNotRegular},
				{"real/big", "", ErrTooLarge},
				{"real/absent", "", fs.ErrNotExist},
			} {
				done := make(chan struct{})
				var b []byte
				var err error
				go func() {
					defer close(done)
					f, oerr := impl.open(root, tc.rel, os.O_RDONLY|nonBlock, 0)
					if oerr == nil {
						f.Close()
					}
					b, err = ReadFileBeneath(root, tc.rel, 1024)
				}()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					t.Fatalf("%s: blocked", tc.rel)
				}
				if tc.err == nil && (err != nil || string(b) != tc.want) {
					t.Errorf("%s: got %q, %v; want %q", tc.rel, b, err, tc.want)
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("%s: got %q, %v; want %v", tc.rel, b, err, tc.err)
				}
			}
			// The walk on its own refuses links the same way.
			if _, err := walkBeneath(root, "etc/passwd", os.O_RDONLY, 0); !errors.Is(err, ErrUnsafePath) {
				t.Errorf("walk through a folder link: %v, want ErrUnsafePath", err)
			}
		})
	}
}

func TestReplaceFileBeneath(t *testing.T) {
	root, canary := hostileRoot(t)
	// A link at the name is replaced, never followed.
	if err := ReplaceFileBeneath(root, "real/settings.json", []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(canary); string(b) != "host canary\n" {
		t.Fatalf("the canary outside changed: %q", b)
	}
	st, err := os.Lstat(filepath.Join(root, "real", "settings.json"))
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Fatalf("settings.json: %v %v, want a regular file 0600", st, err)
	}
	// A link in the folder part refuses.
	if err := ReplaceFileBeneath(root, "etc/passwd", []byte("x"), 0o600); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("through a folder link: %v, want ErrUnsafePath", err)
	}
	if b, _ := os.ReadFile(canary); string(b) != "host canary\n" {
		t.Fatalf("the canary outside changed: %q", b)
	}
	// Create: only where nothing is, a dangling link included.
	os.Symlink(filepath.Join(filepath.Dir(canary), "new"), filepath.Join(root, "real", "dangling"))
	if err := CreateFileBeneath(root, "real/dangling", []byte("x"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("create over a dangling link: %v, want ErrExist", err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(canary), "new")); err == nil {
		t.Fatal("create followed a dangling link out of the root")
	}
	if err := CreateFileBeneath(root, "real/fresh", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CreateFileBeneath(root, "real/fresh", []byte("y"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "real", "fresh")); string(b) != "x" {
		t.Fatalf("fresh: %q", b)
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(filepath.Join(root, "real"))
	for _, e := range entries {
		if len(e.Name()) > 0 && e.Name()[0] == '.' {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestLstatBeneath(t *testing.T) {
	root, _ := hostileRoot(t)
	st, err := LstatBeneath(root, "real/settings.json")
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("a link: %v %v, want the link itself", st, err)
	}
	if _, err := LstatBeneath(root, "etc/passwd"); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("through a folder link: %v", err)
	}
	if st, err := LstatBeneath(root, "real/passwd"); err != nil || !st.Mode().IsRegular() || st.Size() != 12 {
		t.Fatalf("a file: %v %v", st, err)
	}
}
