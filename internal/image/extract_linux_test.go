package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// rootTest is root mode's flavour: image id n is host id 1<<30+n.
var rootTest = rootFlavour(1<<30, 65536)

func extractTest(t *testing.T, es ...ent) (string, LayerInfo, error) {
	t.Helper()
	requireRoot(t)
	base := t.TempDir()
	dest := filepath.Join(base, "fs")
	info, err := extract(bytes.NewReader(tarBytes(t, es...)), dest,
		extractOptions{mapID: rootTest.mapID, opaqueXattrs: rootTest.opaqueXattrs()})
	return dest, info, err
}

func TestExtractOwnersModesLinks(t *testing.T) {
	dest, info, err := extractTest(t,
		dir("./", 0o755, 0),
		dir("usr/bin", 0o755, 0),
		file("usr/bin/sh", "#!sh", 0o755, 0),
		hardlink("usr/bin/sh2", "usr/bin/sh"),
		ent{Name: "usr/bin/sudo", Type: tar.TypeReg, Body: "sudo", Mode: 0o4755},
		ent{Name: "usr/bin/chage", Type: tar.TypeReg, Body: "chage", Mode: 0o2755, GID: 42},
		ent{Name: "usr/bin/game", Type: tar.TypeReg, Body: "game", Mode: 0o6755, UID: 5, GID: 60},
		symlink("bin", "usr/bin"),
		symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
		dir("home/agent", 0o750, 1000),
		file("home/agent/.bashrc", "PS1=x", 0o644, 1000),
		ent{Name: "big-owner", Type: tar.TypeReg, Body: "x", Mode: 0o644, UID: 100000, GID: 100000},
		dir("tmp", 0o1777, 0),
		ent{Name: "run/fifo", Type: tar.TypeFifo, Mode: 0o600},
		ent{Name: "x/attr", Type: tar.TypeReg, Body: "a", Mode: 0o644,
			Xattrs: map[string]string{"user.keep": "yes", "security.capability": "\x01", "trusted.overlay.redirect": "/x", "user.overlay.opaque": "y"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	const base = 1 << 30
	for p, want := range map[string][2]uint32{
		".":                  {base, base},
		"usr/bin/sh":         {base, base},
		"home/agent":         {base + 1000, base + 1000},
		"home/agent/.bashrc": {base + 1000, base + 1000},
		"usr/bin/chage":      {base, base + 42},
		"big-owner":          {base + 65534, base + 65534},
		"bin":                {base, base},
		"usr":                {base, base}, // implied parent
	} {
		st := lstat(t, filepath.Join(dest, p))
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, want[0], want[1])
		}
	}
	if m := lstat(t, filepath.Join(dest, "usr/bin/sudo")).Mode; m&07777 != 0o4755 {
		t.Errorf("sudo (root's) lost its setuid bit: %o", m)
	}
	if m := lstat(t, filepath.Join(dest, "usr/bin/chage")).Mode; m&07777 != 0o2755 {
		t.Errorf("chage (root's, setgid) lost its bit: %o", m)
	}
	if m := lstat(t, filepath.Join(dest, "usr/bin/game")).Mode; m&07777 != 0o755 {
		t.Errorf("setuid file of uid 5 kept its bits: %o", m)
	}
	if m := lstat(t, filepath.Join(dest, "tmp")).Mode; m&07777 != 0o1777 {
		t.Errorf("tmp mode %o", m)
	}
	if m := lstat(t, filepath.Join(dest, "home/agent")).Mode; m&07777 != 0o750 {
		t.Errorf("home/agent mode %o", m)
	}
	if l, _ := os.Readlink(filepath.Join(dest, "bin")); l != "usr/bin" {
		t.Errorf("bin -> %q", l)
	}
	if l, _ := os.Readlink(filepath.Join(dest, "etc/localtime")); l != "/usr/share/zoneinfo/UTC" {
		t.Errorf("localtime -> %q", l)
	}
	if a, b := lstat(t, filepath.Join(dest, "usr/bin/sh")), lstat(t, filepath.Join(dest, "usr/bin/sh2")); a.Ino != b.Ino {
		t.Error("hard link is not the same file")
	}
	if lstat(t, filepath.Join(dest, "run/fifo")).Mode&syscall.S_IFMT != syscall.S_IFIFO {
		t.Error("fifo missing")
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(dest, "x/attr"), "user.keep", buf); err != nil || string(buf[:n]) != "yes" {
		t.Errorf("user.keep xattr: %q %v", buf[:n], err)
	}
	for _, x := range []string{"security.capability", "trusted.overlay.redirect", "user.overlay.opaque"} {
		if _, err := unix.Lgetxattr(filepath.Join(dest, "x/attr"), x, buf); err == nil {
			t.Errorf("xattr %s was kept", x)
		}
	}
	if info.SetIDStripped != 1 || info.Squashed != 1 {
		t.Errorf("info: %+v", info)
	}
	if lstat(t, filepath.Join(dest, "usr/bin/sh")).Mtim.Sec != 1700000000 || lstat(t, filepath.Join(dest, "usr/bin")).Mtim.Sec != 1700000000 {
		t.Error("mtimes not kept")
	}
}

func TestExtractWhiteoutsAndOpaque(t *testing.T) {
	dest, info, err := extractTest(t,
		file("etc/.wh.os-release", "", 0o644, 0),
		dir("home/agent", 0o755, 0),
		file("home/agent/.wh..wh..opq", "", 0o644, 0),
		file("home/agent/new", "n", 0o644, 0),
		file("keep", "k", 0o644, 0),
		file(".wh.keep", "", 0o644, 0), // a whiteout never hides its own layer's file
		file(".wh..wh.plnk", "", 0o644, 0),
	)
	if err != nil {
		t.Fatal(err)
	}
	st := lstat(t, filepath.Join(dest, "etc/os-release"))
	if st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != 0 {
		t.Errorf("os-release is not a whiteout: mode %o rdev %d", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(filepath.Join(dest, "home/agent"), x, buf); err != nil || string(buf[:n]) != "y" {
			t.Errorf("home/agent %s: %q %v", x, buf[:n], err)
		}
	}
	if lstat(t, filepath.Join(dest, "keep")).Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Error("the layer's own file was whited out")
	}
	absent(t, filepath.Join(dest, ".wh..wh.plnk"))
	absent(t, filepath.Join(dest, "etc/.wh.os-release"))
	if info.Whiteouts != 1 || info.Opaque != 1 {
		t.Errorf("info %+v", info)
	}
}

// TestExtractHostile: every trick is refused or neutralised and nothing lands outside the layer.
func TestExtractHostile(t *testing.T) {
	requireRoot(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
	rel := "../../../../../../../../" + strings.TrimPrefix(outside, "/")
	cases := []struct {
		name    string
		entries []ent
		reject  bool
		check   func(t *testing.T, dest string, info LayerInfo)
	}{
		{name: "dotdot name", entries: []ent{file("../escape", "x", 0o644, 0)}, reject: true},
		{name: "dotdot inside name", entries: []ent{file("a/../../escape", "x", 0o644, 0)}, reject: true},
		{name: "absolute name stays inside", entries: []ent{file(outside+"/abs", "x", 0o644, 0)},
			check: func(t *testing.T, dest string, _ LayerInfo) {
				absent(t, filepath.Join(outside, "abs"))
				lstat(t, filepath.Join(dest, outside, "abs"))
			}},
		{name: "write through absolute symlink", entries: []ent{symlink("evil", outside), file("evil/pwned", "x", 0o644, 0)},
			check: func(t *testing.T, dest string, info LayerInfo) {
				absent(t, filepath.Join(outside, "pwned"))
				if info.SkippedCount != 1 {
					t.Errorf("skipped %v", info.Skipped)
				}
			}},
		{name: "write through relative escaping symlink", entries: []ent{symlink("evil", rel), file("evil/pwned", "x", 0o644, 0)},
			check: func(t *testing.T, dest string, _ LayerInfo) {
				absent(t, filepath.Join(outside, "pwned"))
				if l, _ := os.Readlink(filepath.Join(dest, "evil")); l != rel {
					t.Errorf("symlink target changed: %q", l)
				}
			}},
		{name: "symlink replaced by a file is not written through",
			entries: []ent{symlink("s", outside+"/secret"), file("s", "new", 0o644, 0)},
			check: func(t *testing.T, dest string, _ LayerInfo) {
				if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
					t.Errorf("outside file changed: %q", b)
				}
				if lstat(t, filepath.Join(dest, "s")).Mode&syscall.S_IFMT != syscall.S_IFREG {
					t.Error("s is not a regular file")
				}
			}},
		{name: "directory through symlink parent", entries: []ent{symlink("d", outside), dir("d/sub", 0o755, 0), file("d/.wh..wh..opq", "", 0o644, 0), file("d/.wh.secret", "", 0o644, 0)},
			check: func(t *testing.T, dest string, _ LayerInfo) {
				absent(t, filepath.Join(outside, "sub"))
				lstat(t, filepath.Join(outside, "secret"))
				if _, err := unix.Lgetxattr(outside, "user.overlay.opaque", make([]byte, 4)); err == nil {
					t.Error("opaque xattr set outside")
				}
			}},
		{name: "hard link escaping", entries: []ent{hardlink("hl", rel+"/secret")}, reject: true},
		{name: "hard link to an absolute host path", entries: []ent{hardlink("hl", outside+"/secret")},
			check: func(t *testing.T, dest string, info LayerInfo) {
				absent(t, filepath.Join(dest, "hl"))
				if info.SkippedCount != 1 {
					t.Errorf("skipped %v", info.Skipped)
				}
			}},
		{name: "hard link through a symlink", entries: []ent{symlink("sl", outside), hardlink("hl", "sl/secret")},
			check: func(t *testing.T, dest string, _ LayerInfo) { absent(t, filepath.Join(dest, "hl")) }},
		{name: "hard link to a folder", entries: []ent{dir("d", 0o755, 0), hardlink("hl", "d")},
			check: func(t *testing.T, dest string, _ LayerInfo) { absent(t, filepath.Join(dest, "hl")) }},
		{name: "device nodes", entries: []ent{{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o660, Major: 8},
			{Name: "dev/mem", Type: tar.TypeChar, Mode: 0o660, Major: 1}, {Name: "dev/null0", Type: tar.TypeChar}},
			check: func(t *testing.T, dest string, info LayerInfo) {
				absent(t, filepath.Join(dest, "dev/sda"))
				absent(t, filepath.Join(dest, "dev/mem"))
				absent(t, filepath.Join(dest, "dev/null0"))
				if info.SkippedCount != 3 {
					t.Errorf("skipped %v", info.Skipped)
				}
			}},
		{name: "unknown entry type", entries: []ent{{Name: "odd", Type: 'Z'}},
			check: func(t *testing.T, dest string, _ LayerInfo) { absent(t, filepath.Join(dest, "odd")) }},
		{name: "whiteout naming nothing", entries: []ent{file(".wh.", "", 0o644, 0)}, reject: true},
		{name: "whiteout of dotdot", entries: []ent{file("a/.wh...", "", 0o644, 0)}, reject: true},
		{name: "folder replaced by a file", entries: []ent{dir("d", 0o755, 0), file("d/f", "x", 0o644, 0), file("d", "now a file", 0o644, 0)},
			check: func(t *testing.T, dest string, _ LayerInfo) {
				if b, _ := os.ReadFile(filepath.Join(dest, "d")); string(b) != "now a file" {
					t.Errorf("d: %q", b)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dest, info, err := extractTest(t, c.entries...)
			if c.reject {
				if !errors.Is(err, ErrBadLayer) {
					t.Fatalf("want ErrBadLayer, got %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(outside)
			if len(entries) != 1 {
				t.Errorf("something was written outside the layer: %v", entries)
			}
			if c.check != nil {
				c.check(t, dest, info)
			}
		})
	}
}

func TestExtractTruncated(t *testing.T) {
	requireRoot(t)
	raw := tarBytes(t, file("a", strings.Repeat("x", 10000), 0o644, 0), file("b", "y", 0o644, 0))
	dest := filepath.Join(t.TempDir(), "fs")
	_, err := extract(bytes.NewReader(raw[:5000]), dest, extractOptions{mapID: rootTest.mapID})
	if !errors.Is(err, ErrBadLayer) {
		t.Fatalf("want ErrBadLayer, got %v", err)
	}
}
