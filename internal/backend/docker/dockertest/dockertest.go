// Package dockertest gives tests a real Docker engine and a small image built from this host's
// files (a static busybox, git and its libraries), imported through the Engine API.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Require returns a client of the engine (DOCKER_HOST or the default socket). Without one the
// test fails in CI (CI=true: scripts/test.sh starts dockerd) and is skipped elsewhere.
func Require(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = c.Ping(ctx)
	}
	if err != nil {
		msg := "these tests need a Docker engine (scripts/start-dockerd.sh starts one): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	mu     sync.Mutex
	images = map[string]string{}
)

// Image imports (once per test binary) an image of a static busybox with its applets, git with
// the shared libraries it needs, and a root user, and returns its reference.
func Image(t testing.TB) string { return ImageWith(t) }

// ImageWith is Image plus more of this host's programs (absolute paths, e.g. /usr/bin/node), each
// at its own path with the shared libraries it needs.
func ImageWith(t testing.TB, programs ...string) string { return ImageWithLibs(t, programs, nil) }

// ImageWithLibs is ImageWith plus the shared libraries (only) that the executables libsOf need:
// programs that will be mounted into the container rather than copied into the image.
func ImageWithLibs(t testing.TB, programs, libsOf []string) string {
	return imageOf(t, programs, libsOf, "")
}

// ImageWithTrees is ImageWithLibs plus host folders copied whole (regular files and symlinks, at
// their own paths) and symlinks (path in the image -> target): npm's folder and its command.
func ImageWithTrees(t testing.TB, programs, libsOf, trees []string, links map[string]string) string {
	t.Helper()
	c := Require(t)
	mu.Lock()
	defer mu.Unlock()
	var ls []string
	for k, v := range links {
		ls = append(ls, k+">"+v)
	}
	sort.Strings(ls)
	key := strings.Join(programs, " ") + "|" + strings.Join(libsOf, " ") + "||" + strings.Join(trees, " ") + "|" + strings.Join(ls, " ")
	if r, ok := images[key]; ok {
		return r
	}
	r, err := buildWith(c, programs, libsOf, "", trees, links)
	if err != nil {
		t.Fatal(err)
	}
	images[key] = r
	return r
}

// ImageAsUser is Image whose USER is "agent" (uid 1000, home /home/agent, which holds a
// .profile), as Docker's sandbox templates are.
func ImageAsUser(t testing.TB) string { return imageOf(t, nil, nil, "agent") }

func imageOf(t testing.TB, programs, libsOf []string, user string) string {
	t.Helper()
	c := Require(t)
	mu.Lock()
	defer mu.Unlock()
	key := strings.Join(programs, " ") + "|" + strings.Join(libsOf, " ") + "|" + user
	if r, ok := images[key]; ok {
		return r
	}
	r, err := build(c, programs, libsOf, user)
	if err != nil {
		t.Fatal(err)
	}
	images[key] = r
	return r
}

func build(c *client.Client, programs, libsOf []string, user string) (string, error) {
	return buildWith(c, programs, libsOf, user, nil, nil)
}

func buildWith(c *client.Client, programs, libsOf []string, user string, trees []string, links map[string]string) (string, error) {
	files := map[string]string{} // path in image -> host path
	const bb = "/bin/busybox"
	if out, err := exec.Command("file", "-L", bb).Output(); err == nil && !strings.Contains(string(out), "statically linked") {
		return "", errString("the Docker tests need a static busybox at /bin/busybox: apt-get install busybox-static (scripts/test.sh does)")
	}
	files["bin/busybox"] = bb
	progs := map[string]string{} // path in image -> host path
	if git, err := exec.LookPath("git"); err == nil {
		progs["usr/bin/git"] = git
	}
	for _, p := range programs {
		progs[strings.TrimPrefix(p, "/")] = p
	}
	for _, p := range libsOf {
		progs["\x00"+p] = p // libraries only
	}
	for at, p := range progs {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(at, "\x00") {
			files[at] = real
		}
		out, _ := exec.Command("ldd", real).Output()
		for _, line := range strings.Split(string(out), "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "/") {
					r, err := filepath.EvalSymlinks(f)
					if err == nil {
						files[strings.TrimPrefix(filepath.Clean(f), "/")] = r
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	dirs := map[string]bool{}
	dir := func(d string, mode int64) {
		for p := d; p != "." && p != "/" && !dirs[p]; p = filepath.Dir(p) {
			dirs[p] = true
			defer tw.WriteHeader(&tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: mtime})
		}
	}
	for _, d := range []string{"bin", "usr/bin", "etc", "root", "tmp", "var/tmp", "proc", "sys", "dev", "lib64", "usr/lib"} {
		mode := int64(0o755)
		if d == "tmp" || d == "var/tmp" {
			mode = 0o1777
		}
		dir(d, mode)
	}
	h := sha256.New()
	h.Write([]byte("layout 3 " + user)) // bump when the image's fixed content changes
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		body, err := os.ReadFile(files[p])
		if err != nil {
			return "", err
		}
		h.Write([]byte(p))
		h.Write(body)
		dir(filepath.Dir(p), 0o755)
		tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body)), ModTime: mtime})
		tw.Write(body)
	}
	for _, tree := range trees {
		err := filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(p, "/")
			h.Write([]byte(rel))
			switch {
			case d.IsDir():
				dir(rel, 0o755)
			case d.Type()&os.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return err
				}
				dir(filepath.Dir(rel), 0o755)
				tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777, ModTime: mtime})
			case d.Type().IsRegular():
				body, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				info, _ := d.Info()
				h.Write(body)
				dir(filepath.Dir(rel), 0o755)
				tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: int64(info.Mode().Perm()), Size: int64(len(body)), ModTime: mtime})
				tw.Write(body)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	linkPaths := make([]string, 0, len(links))
	for at := range links {
		linkPaths = append(linkPaths, at)
	}
	sort.Strings(linkPaths)
	for _, at := range linkPaths {
		target := links[at]
		h.Write([]byte(at + ">" + target))
		dir(filepath.Dir(at), 0o755)
		tw.WriteHeader(&tar.Header{Name: at, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777, ModTime: mtime})
	}
	applets, _ := exec.Command(bb, "--list").Output()
	for _, a := range strings.Fields(string(applets)) {
		if a == "busybox" || files["usr/bin/"+a] != "" {
			continue
		}
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777, ModTime: mtime})
	}
	// Scripts' `#!/usr/bin/env X` (npm packages' commands).
	tw.WriteHeader(&tar.Header{Name: "usr/bin/env", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777, ModTime: mtime})
	for name, body := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000::/home/agent:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n",
	} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: mtime})
		tw.Write([]byte(body))
	}
	tw.WriteHeader(&tar.Header{Name: "home/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime})
	tw.WriteHeader(&tar.Header{Name: "home/agent/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1000, Gid: 1000, ModTime: mtime})
	profile := "# agent's profile\n"
	tw.WriteHeader(&tar.Header{Name: "home/agent/.profile", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1000, Gid: 1000, Size: int64(len(profile)), ModTime: mtime})
	tw.Write([]byte(profile))
	if err := tw.Close(); err != nil {
		return "", err
	}
	r := "paddock-test/busybox-git:" + hex.EncodeToString(h.Sum(nil))[:12]
	if user != "" {
		r = "paddock-test/busybox-git-" + user + ":" + hex.EncodeToString(h.Sum(nil))[:12]
	} else if len(programs) > 0 {
		r = "paddock-test/busybox-git-" + strings.ToLower(filepath.Base(programs[0])) + ":" + hex.EncodeToString(h.Sum(nil))[:12]
	}
	ctx := context.Background()
	if _, err := c.ImageInspect(ctx, r); err == nil {
		return r, nil
	}
	changes := []string{`ENV PATH=/usr/local/bin:/usr/bin:/bin`}
	if user != "" {
		changes = append(changes, "USER "+user)
	}
	rc, err := c.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(buf.Bytes()), SourceName: "-"}, r,
		image.ImportOptions{Changes: changes})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var out bytes.Buffer
	out.ReadFrom(rc)
	if _, err := c.ImageInspect(ctx, r); err != nil {
		return "", errString("importing the test image: " + out.String())
	}
	return r, nil
}

type errString string

func (e errString) Error() string { return string(e) }
