package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// paddock cp, out of a sandbox and into it, on both backends, root and rootless: files and
// folders keep their modes and times, symlinks stay symlinks, a symlink the sandbox planted
// resolves inside the sandbox (never to the host's file), FIFOs are not made on the host, a
// stopped sandbox is started, and bad operands get one line.
func TestCopy(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) { checkCopy(t, e, nil) })
}

func TestCopyDocker(t *testing.T) {
	forEachDockerMode(t, func(t *testing.T, e *env) { checkCopy(t, e, []string{"--backend", "docker"}) })
}

func checkCopy(t *testing.T, e *env, backend []string) {
	ws := e.workspace("cp")
	box := "shell-cp"
	pd := func(args ...string) result { return e.run(ws, append(append([]string{}, backend...), args...)...) }
	okRun := func(args ...string) string {
		t.Helper()
		r := pd(args...)
		if r.code != 0 {
			t.Fatalf("paddock %s: %s", strings.Join(args, " "), r)
		}
		return r.stdout
	}
	okRun("run", "shell", "-c", `set -e; mkdir -p /tmp/d/sub; echo secret-inside > /tmp/d/sub/f; chmod 640 /tmp/d/sub/f
		TZ=UTC0 touch -d '2020-01-02 03:04:05' /tmp/d/sub/f; ln -s /etc/passwd /tmp/d/link; ln -s /etc /tmp/etclink; mkfifo /tmp/d/fifo`)

	out := e.mkdir(filepath.Join(e.dir, "out"))
	canary := filepath.Join(e.dir, "canary")
	if err := os.WriteFile(canary, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A folder out, under a new name.
	okRun("cp", box+":/tmp/d", filepath.Join(out, "copy"))
	b, err := os.ReadFile(filepath.Join(out, "copy", "sub", "f"))
	if err != nil || string(b) != "secret-inside\n" {
		t.Fatalf("copied file: %q, %v", b, err)
	}
	st, _ := os.Stat(filepath.Join(out, "copy", "sub", "f"))
	if st.Mode().Perm() != 0o640 || !st.ModTime().Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("copied file mode %v, time %v", st.Mode(), st.ModTime())
	}
	if l, err := os.Readlink(filepath.Join(out, "copy", "link")); err != nil || l != "/etc/passwd" {
		t.Errorf("the symlink came out as %q, %v (want the link itself)", l, err)
	}
	if _, err := os.Lstat(filepath.Join(out, "copy", "fifo")); err == nil {
		t.Error("a FIFO was made on the host")
	}
	// A path through a symlink the sandbox planted resolves in the sandbox: its /etc/hostname,
	// not the host's.
	okRun("cp", box+":/tmp/etclink/hostname", filepath.Join(out, "hostname"))
	if b, _ := os.ReadFile(filepath.Join(out, "hostname")); strings.TrimSpace(string(b)) != box {
		t.Errorf("through the planted link: %q, want the sandbox's hostname", b)
	}
	// A folder's contents into an existing folder; a file into a folder.
	contents := e.mkdir(filepath.Join(out, "contents"))
	okRun("cp", box+":/tmp/d/.", contents)
	if _, err := os.Stat(filepath.Join(contents, "sub", "f")); err != nil {
		t.Errorf("contents: %v", err)
	}
	// Into the sandbox: a folder and a file, modes kept.
	in := e.mkdir(filepath.Join(e.dir, "in"))
	os.WriteFile(filepath.Join(in, "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	os.WriteFile(filepath.Join(in, "private"), []byte("p"), 0o600)
	if e.mode == asRootless {
		os.Chown(in, e.uid, e.gid)
		for _, f := range []string{"run.sh", "private"} {
			os.Chown(filepath.Join(in, f), e.uid, e.gid)
		}
	}
	okRun("cp", in, box+":/tmp/in")
	okRun("cp", filepath.Join(in, "private"), box+":/tmp/")
	got := okRun("exec", box, "sh", "-c", "/tmp/in/run.sh; stat -c '%a %n' /tmp/in/private /tmp/private")
	if !strings.Contains(got, "ran") || !strings.Contains(got, "600 /tmp/in/private") || !strings.Contains(got, "600 /tmp/private") {
		t.Errorf("inside after cp in: %q", got)
	}
	// A tar stream on stdout (what the host would extract, filtered: no FIFO), from stdin, and
	// a copy from one sandbox to another.
	tr := tar.NewReader(strings.NewReader(okRun("cp", box+":/tmp/d", "-")))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if !slices.Contains(names, "d/sub/f") || !slices.Contains(names, "d/link") || slices.Contains(names, "d/fifo") {
		t.Errorf("cp to stdout: entries %v", names)
	}
	var stream bytes.Buffer
	tw := tar.NewWriter(&stream)
	tw.WriteHeader(&tar.Header{Name: "streamed/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "streamed/file", Typeflag: tar.TypeReg, Mode: 0o644, Size: 9})
	tw.Write([]byte("from-tar\n"))
	tw.Close()
	if r := e.runInput(ws, stream.String(), append(append([]string{}, backend...), "cp", "-", box+":/tmp")...); r.code != 0 {
		t.Fatalf("cp from stdin: %s", r)
	}
	if got := okRun("exec", box, "cat", "/tmp/streamed/file"); got != "from-tar\n" {
		t.Errorf("cp from stdin: %q", got)
	}
	other := e.workspace("cp-other")
	if r := e.run(other, append(append([]string{}, backend...), "run", "--name", "shell-cp-other", "shell", "-c", "true")...); r.code != 0 {
		t.Fatalf("second sandbox: %s", r)
	}
	okRun("cp", box+":/tmp/d", "shell-cp-other:/tmp/fromcp")
	if got := okRun("exec", "shell-cp-other", "cat", "/tmp/fromcp/sub/f"); got != "secret-inside\n" {
		t.Errorf("sandbox to sandbox: %q", got)
	}

	// A stopped sandbox is started.
	okRun("stop", box)
	okRun("cp", box+":/tmp/in/run.sh", filepath.Join(out, "run.sh"))
	// Bad operands: one line, non-zero, nothing made.
	for _, args := range [][]string{
		{"cp", box + ":/tmp/nothing-here", filepath.Join(out, "x")},
		{"cp", filepath.Join(out, "copy"), "-"},
		{"cp", filepath.Join(out, "copy"), filepath.Join(out, "y")},
		{"cp", box + ":/tmp/d", filepath.Join(out, "no", "such", "folder")},
		{"cp", filepath.Join(out, "copy"), box + ":/tmp/in/run.sh"},
	} {
		r := pd(args...)
		if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("paddock %s: want one line and a failure: %s", strings.Join(args, " "), r)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "x")); err == nil {
		t.Error("a failed copy left a file")
	}
	if b, _ := os.ReadFile(canary); string(b) != "host" {
		t.Error("a file next to the destination changed")
	}
}
