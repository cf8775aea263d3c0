package e2e

// End-to-end tests of templates (issue 3, the image half): pull from a real registry on
// 127.0.0.1, import archives, the layer cache's owners on disk in root mode and rootless (with
// and without subordinate ids), overlay semantics of whiteouts, ls/inspect/rm/prune, and one
// clear line for each bad input.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/paddockhq/paddock/internal/image/imagetest"
)

// tplEngine calls the Docker Engine API on /var/run/docker.sock, with a file as the body.
func tplEngine(t *testing.T, method, path, body string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", "/var/run/docker.sock")
	}}}
	var r io.Reader
	if body != "" {
		f, err := os.Open(body)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r = f
	}
	req, _ := http.NewRequest(method, "http://docker"+path, r)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("Docker engine %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("Docker engine %s %s: %s: %s", method, path, resp.Status, out)
	}
}

// tplDetails is the part of `template inspect` the tests read.
type tplDetails struct {
	Ref       string   `json:"ref"`
	Name      string   `json:"name"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	Complete  bool     `json:"complete"`
	Owners    string   `json:"owners"`
	Squashed  int      `json:"squashed_owners"`
	UsedBy    []string `json:"used_by"`
	LayerDirs []string `json:"layer_dirs"`
	LowerDir  string   `json:"overlay_lowerdir"`
	Config    struct {
		User string `json:"user"`
	} `json:"config"`
}

func tplInspect(t *testing.T, e *env, ref string) tplDetails {
	t.Helper()
	var d []tplDetails
	out := e.ok("", "template", "inspect", ref)
	if err := json.Unmarshal([]byte(out), &d); err != nil || len(d) != 1 {
		t.Fatalf("template inspect: %v\n%s", err, out)
	}
	return d[0]
}

// tplOneLine asserts a failure printed one line starting with "paddock: " that says want.
func tplOneLine(t *testing.T, what string, r result, code int, want string) {
	t.Helper()
	if r.code != code || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.HasPrefix(r.stderr, "paddock: ") || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: want exit %d and one line with %q, got %s", what, code, want, r)
	}
}

// tplSubUIDStart is the first subordinate uid of user name.
func tplSubUIDStart(t *testing.T, name string) int {
	f, err := os.Open("/etc/subuid")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), ":")
		if len(p) == 3 && p[0] == name {
			n, _ := strconv.Atoi(p[1])
			return n
		}
	}
	t.Fatalf("%s has no subordinate uids", name)
	return 0
}

func tplOwner(t *testing.T, p string) (int, int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid), int(st.Gid)
}

func TestTemplatePull(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/debian:bookworm", imagetest.DebianLike(t, runtime.GOARCH))
	forEachMode(t, func(t *testing.T, e *env) {
		r := e.run("", "template", "pull", ref)
		if r.code != 0 || !strings.HasPrefix(r.stdout, ref+"@sha256:") || !strings.Contains(r.stderr, "pulling "+ref) {
			t.Fatalf("pull: %s", r)
		}
		gets := reg.BlobGets.Load()
		r = e.run("", "template", "pull", ref)
		if r.code != 0 || !strings.Contains(r.stderr, "up to date") || reg.BlobGets.Load() != gets {
			t.Fatalf("second pull downloaded %d blobs: %s", reg.BlobGets.Load()-gets, r)
		}
		d := tplInspect(t, e, ref)
		if !d.Complete || d.Squashed != 0 || d.Config.User != "agent" || len(d.LayerDirs) != 2 || d.Size == 0 {
			t.Fatalf("inspect: %+v", d)
		}
		base, top := d.LayerDirs[0], d.LayerDirs[1]
		// Owners on disk are what the sandbox's mapping needs.
		rootID, agentID := 1<<30, 1<<30+1000
		if e.mode == asRootless {
			rootID, agentID = e.uid, tplSubUIDStart(t, testUser)+999
		}
		if u, _ := tplOwner(t, filepath.Join(base, "etc/passwd")); u != rootID {
			t.Errorf("etc/passwd owner %d, want %d", u, rootID)
		}
		if u, g := tplOwner(t, filepath.Join(base, "home/agent/.bashrc")); u != agentID || g != agentID-e.uid+e.gid && e.mode == asRootless {
			t.Errorf(".bashrc owner %d:%d, want %d", u, g, agentID)
		}
		var st syscall.Stat_t
		syscall.Lstat(filepath.Join(base, "usr/bin/sudo"), &st)
		if st.Mode&syscall.S_ISUID == 0 {
			t.Error("sudo lost its setuid bit")
		}
		if _, err := os.Lstat(filepath.Join(base, "dev/null")); err == nil {
			t.Error("a device node was unpacked")
		}
		syscall.Lstat(filepath.Join(top, "etc/os-release"), &st)
		if st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != 0 {
			t.Error("etc/os-release is not an overlay whiteout")
		}
		// The cache is private to its user.
		if fi, err := os.Stat(filepath.Join(e.phome, "images")); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("images folder: %v %v", fi.Mode(), err)
		}
		if e.mode == asRootless {
			tplRootlessOverlay(t, e, d.LowerDir)
		}
		ls := e.ok("", "template", "ls")
		if !strings.Contains(ls, ref) {
			t.Errorf("ls: %s", ls)
		}
		e.ok("", "template", "rm", ref)
		e.ok("", "template", "prune")
		entries, _ := os.ReadDir(filepath.Dir(base))
		if len(entries) != 0 {
			t.Errorf("layers left after rm and prune: %v", entries)
		}
	})
}

// tplRootlessOverlay mounts the layers as the user in a user namespace (overlayfs with
// userxattr, as a rootless sandbox will) and checks whiteouts and opaque folders.
func tplRootlessOverlay(t *testing.T, e *env, lower string) {
	t.Helper()
	up, work, merged := e.mkdir(filepath.Join(e.dir, "up")), e.mkdir(filepath.Join(e.dir, "work")), e.mkdir(filepath.Join(e.dir, "merged"))
	script := `mount -t overlay overlay -o userxattr,lowerdir="$1",upperdir="$2",workdir="$3" "$4" && ls -A "$4/home/agent" && ! test -e "$4/etc/os-release" && cat "$4/bin/sh" "$4/etc/passwd" >/dev/null`
	cmd := exec.Command("unshare", "-Urm", "sh", "-c", script, "sh", lower, up, work, merged)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uid), Gid: uint32(e.gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "new" {
		t.Errorf("rootless overlay of the layers: %v: %s", err, out)
	}
}

// TestTemplateRootlessWithoutSubIDs: a user without /etc/subuid ranges gets one mapping; files
// of other owners belong to root, and ls/inspect say so.
func TestTemplateRootlessWithoutSubIDs(t *testing.T) {
	requireRoot(t)
	const nosub = "paddock-e2e-nosub"
	if _, err := user.Lookup(nosub); err != nil {
		out, err := exec.Command("useradd", "--no-create-home", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0",
			"--shell", "/bin/bash", nosub).CombinedOutput()
		if err != nil {
			t.Fatalf("creating %s: %v: %s", nosub, err, out)
		}
	}
	u, _ := user.Lookup(nosub)
	e := newEnv(t, asRootless)
	e.uid, _ = strconv.Atoi(u.Uid)
	e.gid, _ = strconv.Atoi(u.Gid)
	for _, p := range []string{e.dir, e.home, filepath.Join(e.home, ".gitconfig")} {
		os.Chown(p, e.uid, e.gid)
	}
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/debian:1", imagetest.DebianLike(t, runtime.GOARCH))
	e.ok("", "template", "pull", ref)
	d := tplInspect(t, e, ref)
	if d.Squashed == 0 || !strings.Contains(d.Owners, "without subordinate ids") {
		t.Errorf("inspect does not say owners were squashed: %+v", d)
	}
	if u, _ := tplOwner(t, filepath.Join(d.LayerDirs[0], "home/agent/.bashrc")); u != e.uid {
		t.Errorf(".bashrc owner %d, want the user %d", u, e.uid)
	}
	if ls := e.ok("", "template", "ls"); !strings.Contains(ls, "squashed") {
		t.Errorf("ls: %s", ls)
	}
	e.ok("", "template", "rm", ref)
}

func TestTemplateImport(t *testing.T) {
	e := newEnv(t, asRoot)
	dir := t.TempDir()
	tag, _ := name.NewTag("example.com/team/deb:1")
	save := filepath.Join(dir, "save.tar")
	if err := tarball.WriteToFile(save, tag, imagetest.DebianLike(t, runtime.GOARCH)); err != nil {
		t.Fatal(err)
	}
	out := e.ok("", "template", "import", save)
	if !strings.HasPrefix(out, "example.com/team/deb:1@sha256:") {
		t.Errorf("import: %s", out)
	}
	lp, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	small := imagetest.Image(t, runtime.GOARCH, v1.Config{}, imagetest.Layer(t, imagetest.Tar(t, imagetest.File("hello", "hi", 0o644, 0))))
	lp.AppendImage(small)
	tplOneLine(t, "unnamed OCI layout", e.run("", "template", "import", filepath.Join(dir, "oci")), 2, "--name")
	e.ok("", "template", "import", "--name", "oci-img:1", filepath.Join(dir, "oci"))
	rootfs := filepath.Join(dir, "rootfs.tar")
	os.WriteFile(rootfs, imagetest.Tar(t, imagetest.File("etc/hostname", "x", 0o644, 0)), 0o644)
	tplOneLine(t, "rootfs without --name", e.run("", "template", "import", rootfs), 2, "--name REF")
	e.ok("", "template", "import", "--name", "myroot", rootfs)
	var list []tplDetails
	if err := json.Unmarshal([]byte(e.ok("", "template", "ls", "--json")), &list); err != nil || len(list) != 3 {
		t.Fatalf("ls --json: %v %+v", err, list)
	}
	// docker:// from a real engine (scripts/test.sh starts one).
	dockerEngine(t)
	tplEngine(t, http.MethodPost, "/images/load?quiet=1", save)
	defer tplEngine(t, http.MethodDelete, "/images/example.com/team/deb:1", "")
	out = e.ok("", "template", "import", "docker://example.com/team/deb:1", "--name", "from-docker:1")
	if !strings.HasPrefix(out, "from-docker:1@sha256:") {
		t.Errorf("docker:// import: %s", out)
	}
}

func TestTemplateBadInput(t *testing.T) {
	e := newEnv(t, asRoot)
	reg := imagetest.NewRegistry(t)
	arch := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	reg.Push(t, "test/foreign:1", imagetest.Image(t, arch, v1.Config{}, imagetest.Layer(t, imagetest.Tar(t, imagetest.File("a", "1", 0o644, 0)))))
	reg.Push(t, "private/img:1", imagetest.DebianLike(t, runtime.GOARCH))
	tplOneLine(t, "unreachable", e.run("", "template", "pull", "127.0.0.1:1/x/y:1"), 1, "cannot reach registry 127.0.0.1:1")
	tplOneLine(t, "unknown image", e.run("", "template", "pull", reg.Host+"/nope/nope:1"), 1, "is not in registry")
	tplOneLine(t, "wrong platform", e.run("", "template", "pull", reg.Host+"/test/foreign:1"), 1, "is built for linux/"+arch)
	tplOneLine(t, "no login", e.run("", "template", "pull", reg.Host+"/private/img:1"), 1, "docker login "+reg.Host)
	e.mkdir(filepath.Join(e.home, ".docker"))
	e.writeFile(filepath.Join(e.home, ".docker", "config.json"), `{"auths":{"`+reg.Host+`":{"username":"alice","password":"wrong"}}}`)
	tplOneLine(t, "wrong password", e.run("", "template", "pull", reg.Host+"/private/img:1"), 1, "refused access")
	e.writeFile(filepath.Join(e.home, ".docker", "config.json"), `{"auths":{"`+reg.Host+`":{"username":"alice","password":"s3cret"}}}`)
	e.ok("", "template", "pull", reg.Host+"/private/img:1")
	tplOneLine(t, "bad reference", e.run("", "template", "pull", "Not A Ref"), 2, "invalid image reference")
	tplOneLine(t, "missing file", e.run("", "template", "import", "/nonexistent.tar"), 2, "cannot import")
	tplOneLine(t, "rm unknown", e.run("", "template", "rm", "never-pulled:1"), 1, "not found")
}

// TestTemplateRmInUse: a template named by a sandbox's spec cannot be removed.
func TestTemplateRmInUse(t *testing.T) {
	e := newEnv(t, asRoot)
	rootfs := filepath.Join(e.dir, "rootfs.tar")
	os.WriteFile(rootfs, imagetest.Tar(t, imagetest.File("etc/hostname", "x", 0o644, 0)), 0o644)
	e.ok("", "template", "import", "--name", "inuse:1", rootfs)
	ws := e.workspace("proj")
	e.ok(ws, "create", "shell")
	dirs := e.sandboxDirs()
	if len(dirs) != 1 {
		t.Fatalf("sandboxes: %v", dirs)
	}
	// Until the engine starts sandboxes from images, name the template in the record by hand.
	rp := filepath.Join(e.phome, "sandboxes", dirs[0], "record.json")
	var rec map[string]any
	b, _ := os.ReadFile(rp)
	json.Unmarshal(b, &rec)
	rec["spec"].(map[string]any)["template"] = "inuse:1"
	b, _ = json.Marshal(rec)
	os.WriteFile(rp, b, 0o600)
	tplOneLine(t, "rm in use", e.run("", "template", "rm", "inuse:1"), 1, "used by shell-proj")
	if d := tplInspect(t, e, "inuse:1"); len(d.UsedBy) != 1 {
		t.Errorf("used_by: %v", d.UsedBy)
	}
	e.ok("", "rm", "shell-proj")
	e.ok("", "template", "rm", "inuse:1")
}
