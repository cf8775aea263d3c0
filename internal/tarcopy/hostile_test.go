package tarcopy

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A file already in the destination cannot be reached through a hard link in the stream (which
// -a would then give to the sandbox's owner), and a folder already there keeps its mode.
func TestExtractKeepsWhatWasThere(t *testing.T) {
	dest := t.TempDir()
	os.MkdirAll(filepath.Join(dest, "copy"), 0o700)
	os.WriteFile(filepath.Join(dest, "copy", "mine"), []byte("user's"), 0o600)
	_, err := Extract(stream(t,
		entry{name: "d/", typ: tar.TypeDir, mode: 0o777},
		entry{name: "d/h", typ: tar.TypeLink, link: "d/mine"},
	), dest, ExtractOptions{From: "d", Top: "copy"})
	if err == nil || !strings.Contains(err.Error(), "did not bring") {
		t.Errorf("a link to a file already there: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "copy", "h")); err == nil {
		t.Error("the link was made")
	}
	if st, _ := os.Stat(filepath.Join(dest, "copy")); st.Mode().Perm() != 0o700 {
		t.Errorf("the folder already there became %v", st.Mode())
	}
	// A link to a file the stream brought is made.
	if _, err := Extract(stream(t,
		entry{name: "d/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "d/f", typ: tar.TypeReg, body: "x"},
		entry{name: "d/h", typ: tar.TypeLink, link: "d/f"},
	), dest, ExtractOptions{From: "d", Top: "new"}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(dest, "new", "f"))
	b, _ := os.Stat(filepath.Join(dest, "new", "h"))
	if !os.SameFile(a, b) {
		t.Error("the hard link was not made")
	}
}

func TestBudget(t *testing.T) {
	for _, tc := range []struct {
		name          string
		bytes, inodes int64
		sizes         []int64
		fails         bool
	}{
		{"fits", 100, 10, []int64{50, 50}, false},
		{"too big", 100, 10, []int64{50, 51}, true},
		{"out of inodes", 1000, 2, []int64{1, 1, 1}, true},
		{"no bound known", -1, -1, []int64{1 << 50, 1 << 50}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &budget{dest: "/d", bytes: tc.bytes, inodes: tc.inodes}
			var err error
			for _, s := range tc.sizes {
				if err = b.take("f", s); err != nil {
					break
				}
			}
			if (err != nil) != tc.fails {
				t.Errorf("err = %v, want failure %v", err, tc.fails)
			}
		})
	}
}

// A sandbox that swaps a folder in the tree being copied for a symlink to the host's files, or a
// file for a FIFO, while Write runs, never gets those files into the stream and never blocks it.
func TestWriteRace(t *testing.T) {
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	os.Mkdir(secret, 0o700)
	os.WriteFile(filepath.Join(secret, "id_ed25519"), []byte("HOST-SECRET"), 0o600)
	src := filepath.Join(base, "ws")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "id_ed25519"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(src, "file"), []byte("plain"), 0o644)

	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		sub, tmp, file := filepath.Join(src, "sub"), filepath.Join(src, "sub.real"), filepath.Join(src, "file")
		for !stop.Load() {
			os.Rename(sub, tmp)
			os.Symlink(secret, sub)
			os.Remove(sub)
			os.Rename(tmp, sub)
			os.Remove(file)
			syscall.Mkfifo(file, 0o644)
			os.Remove(file)
			os.WriteFile(file, []byte("plain"), 0o644)
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	runs := 0
	for time.Now().Before(deadline) {
		var b bytes.Buffer
		finished := make(chan error, 1)
		go func() { _, err := Write(&b, src, "ws", WriteOptions{}); finished <- err }()
		select {
		case <-finished:
		case <-time.After(5 * time.Second):
			t.Fatal("Write blocked (on a FIFO?)")
		}
		tr := tar.NewReader(&b)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			body, _ := io.ReadAll(tr)
			if bytes.Contains(body, []byte("HOST-SECRET")) {
				t.Fatalf("the host's file came in as %s", h.Name)
			}
		}
		runs++
	}
	stop.Store(true)
	<-done
	t.Logf("%d copies raced", runs)
}

// Filter passes on what Extract would write, and refuses what it would refuse.
func TestFilter(t *testing.T) {
	var out bytes.Buffer
	rep, err := Filter(stream(t,
		entry{name: "d/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "d/suid", typ: tar.TypeReg, body: "x", mode: 0o4755},
		entry{name: "d/null", typ: tar.TypeChar},
		entry{name: "d/l", typ: tar.TypeSymlink, link: "/etc/passwd"},
		entry{name: "d/h", typ: tar.TypeLink, link: "d/suid"},
	), &out, ExtractOptions{From: "d", Top: "copy"})
	if err != nil || rep.Files != 4 || len(rep.Skipped) != 1 {
		t.Fatalf("%+v, %v", rep, err)
	}
	tr := tar.NewReader(&out)
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if h.Mode&0o6000 != 0 {
			t.Errorf("%s kept mode %o", h.Name, h.Mode)
		}
	}
	if strings.Join(names, ",") != "copy/,copy/suid,copy/l,copy/h" {
		t.Errorf("entries %v", names)
	}
	for _, bad := range [][]entry{
		{{name: "d/", typ: tar.TypeDir}, {name: "d/../x", typ: tar.TypeReg, body: "x"}},
		{{name: "d/", typ: tar.TypeDir}, {name: "d/h", typ: tar.TypeLink, link: "d/elsewhere"}},
	} {
		if _, err := Filter(stream(t, bad...), io.Discard, ExtractOptions{From: "d"}); err == nil {
			t.Errorf("%v passed", bad)
		}
	}
}
