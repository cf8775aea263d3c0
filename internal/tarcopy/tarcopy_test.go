package tarcopy

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func stream(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)),
			ModTime: time.Unix(1700000000, 0)}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return &b
}

// TestExtractHostile: a stream from a sandbox cannot write outside the folder it is extracted
// into, whatever names, links or modes it holds.
func TestExtractHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		fails   bool
	}{
		{"dot-dot", []entry{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/../../escaped", typ: tar.TypeReg, body: "x"}}, true},
		{"absolute", []entry{{name: "/escaped", typ: tar.TypeReg, body: "x"}}, true},
		{"sibling of the top", []entry{{name: "d/", typ: tar.TypeDir}, {name: "other", typ: tar.TypeReg, body: "x"}}, true},
		{"through a symlink to outside", []entry{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/out", typ: tar.TypeSymlink, link: "OUTSIDE"},
			{name: "d/out/escaped", typ: tar.TypeReg, body: "x"}}, true},
		{"symlink replaced by a file through it", []entry{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/f", typ: tar.TypeSymlink, link: "OUTSIDE/escaped"},
			{name: "d/f", typ: tar.TypeReg, body: "inside"}}, false},
		{"hard link to outside", []entry{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/h", typ: tar.TypeLink, link: "../escaped"}}, true},
		{"device and fifo skipped, setuid dropped", []entry{{name: "d/", typ: tar.TypeDir, mode: 0o755}, {name: "d/null", typ: tar.TypeChar},
			{name: "d/fifo", typ: tar.TypeFifo}, {name: "d/suid", typ: tar.TypeReg, body: "#!/bin/sh", mode: 0o4755}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			dest := filepath.Join(base, "dest")
			os.Mkdir(outside, 0o755)
			os.Mkdir(dest, 0o755)
			for i := range tc.entries {
				tc.entries[i].link = strings.ReplaceAll(tc.entries[i].link, "OUTSIDE", outside)
			}
			_, err := Extract(stream(t, tc.entries...), dest, ExtractOptions{From: "d", Top: "copy"})
			if tc.fails != (err != nil) {
				t.Errorf("err = %v, want failure %v", err, tc.fails)
			}
			if left, _ := os.ReadDir(outside); len(left) != 0 {
				t.Errorf("wrote outside the destination: %v", left)
			}
			if _, err := os.Lstat(filepath.Join(base, "escaped")); err == nil {
				t.Error("wrote next to the destination")
			}
			if st, err := os.Lstat(filepath.Join(dest, "copy", "suid")); err == nil && st.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
				t.Errorf("kept setuid: %v", st.Mode())
			}
			for _, n := range []string{"null", "fifo"} {
				if _, err := os.Lstat(filepath.Join(dest, "copy", n)); err == nil {
					t.Errorf("made %s on the host", n)
				}
			}
		})
	}
}

// TestRoundTrip: a folder written and extracted under another name keeps its files, modes,
// times and symlinks.
func TestRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "proj")
	os.MkdirAll(filepath.Join(src, "sub"), 0o750)
	os.WriteFile(filepath.Join(src, "sub", "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.WriteFile(filepath.Join(src, "data"), bytes.Repeat([]byte("x"), 100000), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(src, "link"))
	mt := time.Unix(1600000000, 0)
	os.Chtimes(filepath.Join(src, "data"), mt, mt)
	var b bytes.Buffer
	if _, err := Write(&b, src, "proj", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	rep, err := Extract(&b, dest, ExtractOptions{From: "proj", Top: "copy"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 5 || rep.Bytes != 100000+18 {
		t.Errorf("report %+v", rep)
	}
	for p, want := range map[string]os.FileMode{"copy": os.ModeDir | 0o750, "copy/sub/run.sh": 0o755, "copy/data": 0o600} {
		st, err := os.Lstat(filepath.Join(dest, p))
		if err != nil || st.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", p, st.Mode(), err, want)
		}
	}
	if st, _ := os.Stat(filepath.Join(dest, "copy", "data")); !st.ModTime().Equal(mt) {
		t.Errorf("mtime %v, want %v", st.ModTime(), mt)
	}
	if l, err := os.Readlink(filepath.Join(dest, "copy", "link")); err != nil || l != "/etc/passwd" {
		t.Errorf("link: %q, %v", l, err)
	}
}
