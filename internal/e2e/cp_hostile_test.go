package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// paddock cp against a sandbox that fights back, on both backends, root and rootless: a folder
// being copied in that the sandbox keeps swapping for a symlink to the host's secrets, or a file
// it swaps for a FIFO, never brings the host's files in and never hangs; a sparse file of a
// gigabyte copied out stops before it fills the destination's disk; -a out of a sandbox as an
// ordinary user is refused up front.
func TestCopyHostile(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) { checkCopyHostile(t, e, nil) })
}

func TestCopyHostileDocker(t *testing.T) {
	forEachDockerMode(t, func(t *testing.T, e *env) { checkCopyHostile(t, e, []string{"--backend", "docker"}) })
}

func checkCopyHostile(t *testing.T, e *env, backend []string) {
	ws := e.workspace("cph")
	box := "shell-cph"
	pd := func(args ...string) result { return e.run(ws, append(append([]string{}, backend...), args...)...) }
	if r := pd("run", "shell", "-c", "true"); r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	secret := e.mkdir(filepath.Join(e.dir, "host-secrets"))
	e.writeFile(filepath.Join(secret, "id_ed25519"), "HOST-SECRET\n")
	src := e.mkdir(filepath.Join(ws, "src"))
	e.mkdir(filepath.Join(src, "sub"))
	e.writeFile(filepath.Join(src, "sub", "id_ed25519"), "inside\n")
	e.writeFile(filepath.Join(src, "file"), "plain\n")
	// Files walked before sub: the time between reading src and going into sub.
	for i := range 1000 {
		e.writeFile(filepath.Join(src, fmt.Sprintf("a%04d", i)), "pad\n")
	}

	// The sandbox swaps src/sub for a symlink to the host's folder and src/file for a FIFO, as
	// fast as it can, while the host copies src in, again and again.
	swapper := make(chan result, 1)
	go func() {
		swapper <- pd("exec", box, "sh", "-c", `cd `+src+`; end=$(( $(date +%s) + 8 ))
			while [ "$(date +%s)" -lt "$end" ]; do
				mv sub sub.real; ln -s `+secret+` sub; sleep 0.01; rm sub; mv sub.real sub; sleep 0.01
				rm -f file; mkfifo file; rm -f file; echo plain > file
			done`)
	}()
	start := time.Now()
	copies := 0
	for time.Since(start) < 6*time.Second {
		done := make(chan result, 1)
		go func() { done <- pd("cp", src, box+":/tmp/got") }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("paddock cp hung on a folder the sandbox was changing")
		}
		copies++
	}
	if r := <-swapper; r.code != 0 {
		t.Fatalf("the sandbox's swapping loop: %s", r)
	}
	if r := pd("exec", box, "sh", "-c", "grep -r HOST-SECRET /tmp/got; true"); strings.Contains(r.stdout, "HOST-SECRET") {
		t.Fatalf("the host's secret was copied into the sandbox: %s", r.stdout)
	}
	t.Logf("%d copies raced the sandbox", copies)

	// A gigabyte of nothing (sparse inside) copied onto a 16 MiB disk stops before filling it.
	small := e.mkdir(filepath.Join(e.dir, "small"))
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=16m,mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(small, syscall.MNT_DETACH) })
	os.Chown(small, e.uid, e.gid)
	if r := pd("exec", box, "sh", "-c", "truncate -s 1G /tmp/big || dd if=/dev/zero of=/tmp/big bs=1 count=0 seek=1G"); r.code != 0 {
		t.Fatalf("making a sparse file: %s", r)
	}
	begin := time.Now()
	r := pd("cp", box+":/tmp/big", small)
	if r.code == 0 || !strings.Contains(r.stderr, "would fill the disk") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("copying out a gigabyte onto 16 MiB: want one line about the disk: %s", r)
	}
	var st syscall.Statfs_t
	syscall.Statfs(small, &st)
	if used := (st.Blocks - st.Bfree) * uint64(st.Bsize); used > 1<<20 {
		t.Errorf("the refused copy left %d bytes on the disk", used)
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("the refused copy took %v (did it read the whole stream?)", d)
	}

	// -a out of a sandbox needs root on the host.
	if e.mode == asRootless {
		r := pd("cp", "-a", box+":/etc/hostname", filepath.Join(e.dir, "h"))
		if r.code == 0 || !strings.Contains(r.stderr, "needs root") {
			t.Errorf("cp -a out, rootless: %s", r)
		}
	}
}
