package hostpath

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestOpenRefusesSymlinks(t *testing.T) {
	tmp, _ := filepath.EvalSymlinks(t.TempDir())
	real := filepath.Join(tmp, "real", "sub")
	os.MkdirAll(real, 0o755)
	os.Symlink(filepath.Join(tmp, "real"), filepath.Join(tmp, "link"))
	tests := []struct {
		name, path string
		want       error
	}{
		{"plain", real, nil},
		{"symlink in the middle", filepath.Join(tmp, "link", "sub"), ErrSymlink},
		{"symlink at the end", filepath.Join(tmp, "link"), ErrSymlink},
	}
	for _, tt := range tests {
		for _, open := range []struct {
			name string
			fn   func(string) (*os.File, error)
		}{{"openat2", Open}, {"walk", walk}} {
			t.Run(tt.name+"/"+open.name, func(t *testing.T) {
				f, err := open.fn(tt.path)
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				if f != nil {
					f.Close()
				}
			})
		}
	}
}

func TestOpenSameRefusesAReplacement(t *testing.T) {
	tmp, _ := filepath.EvalSymlinks(t.TempDir())
	p := filepath.Join(tmp, "d")
	os.Mkdir(p, 0o755)
	id, err := Identify(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenSame(p, id)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Remove(p)
	time.Sleep(10 * time.Millisecond)
	os.Mkdir(p, 0o755)
	if f, err := OpenSame(p, id); !errors.Is(err, ErrChanged) {
		if f != nil {
			f.Close()
		}
		t.Fatalf("a new folder at the path: err = %v, want ErrChanged", err)
	}
}

func TestReadSmall(t *testing.T) {
	tmp := t.TempDir()
	small, big, fifo := filepath.Join(tmp, "small"), filepath.Join(tmp, "big"), filepath.Join(tmp, "fifo")
	os.WriteFile(small, []byte("gitdir: x\n"), 0o644)
	os.WriteFile(big, make([]byte, 5000), 0o644)
	syscall.Mkfifo(fifo, 0o644)
	os.Symlink("/dev/zero", filepath.Join(tmp, "zero"))
	if b, err := ReadSmall(small, 4096); err != nil || string(b) != "gitdir: x\n" {
		t.Fatalf("small: %q %v", b, err)
	}
	for name, want := range map[string]error{"big": ErrTooLarge, "fifo": ErrNotRegular, "zero": ErrSymlink} {
		if _, err := ReadSmall(filepath.Join(tmp, name), 4096); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
	}
}
