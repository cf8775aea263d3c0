package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/paddockhq/paddock/internal/testroot"
)

// listing describes every entry of an unpacked layer: name, type and mode, owner, size, link
// target, content and user xattrs.
func listing(t *testing.T, root string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		syscall.Lstat(p, &st)
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %o %d:%d rdev=%d nlink=%d", rel, st.Mode, st.Uid, st.Gid, st.Rdev, st.Nlink)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		if names, err := listXattrs(p); err == nil {
			sort.Strings(names)
			for _, n := range names {
				v, _ := getXattr(p, n)
				line += fmt.Sprintf(" %s=%q", n, v)
			}
		}
		out = append(out, line)
		return nil
	})
	return strings.Join(out, "\n")
}

// TestWriteLayerTarRoundTrip: a layer written back by writeLayerTar and unpacked again is the
// same, whiteouts, opaque folders, hard links, setuid bits and user xattrs included (rootless
// sandboxes of an image with a non-root USER get their layers this way).
func TestWriteLayerTarRoundTrip(t *testing.T) {
	testroot.Require(t, "files owned by other users")
	// Identity owners: the helper that writes a layer back sees the image's ids in its namespace.
	same := rootFlavour(0, 65536)
	a := filepath.Join(t.TempDir(), "fs")
	_, err := extract(bytes.NewReader(tarBytes(t,
		dir("./", 0o755, 0),
		dir("usr/bin", 0o755, 0),
		file("usr/bin/sh", "#!sh", 0o755, 0),
		hardlink("usr/bin/dash", "usr/bin/sh"),
		ent{Name: "usr/bin/sudo", Type: tar.TypeReg, Body: "sudo", Mode: 0o4755},
		symlink("bin", "usr/bin"),
		dir("home/agent", 0o750, 1000),
		file("home/agent/.wh..wh..opq", "", 0, 0),
		file("home/agent/.bashrc", "PS1=x", 0o644, 1000),
		file("etc/.wh.motd", "", 0, 0),
		ent{Name: "etc/attr", Type: tar.TypeReg, Body: "x", Mode: 0o600, UID: 7, GID: 8, Xattrs: map[string]string{"user.note": "hi"}},
	)), a, extractOptions{mapID: same.mapID, opaqueXattrs: rootTest.opaqueXattrs()})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeLayerTar(a, &buf); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(t.TempDir(), "fs")
	if _, err := extract(&buf, b, extractOptions{mapID: same.mapID, opaqueXattrs: rootTest.opaqueXattrs()}); err != nil {
		t.Fatal(err)
	}
	if la, lb := listing(t, a), listing(t, b); la != lb {
		t.Errorf("round trip differs:\n--- unpacked\n%s\n--- written back and unpacked again\n%s", la, lb)
	}
}
