package e2e

// End-to-end tests of templates made from a real Debian root filesystem (issue 3): built with
// mmdebstrap (minbase plus sudo), kept in /var/cache/paddock-test between test runs, served by a
// real registry on 127.0.0.1. apt-get installs a package from a local .deb, and an image laid
// out like Docker's sandbox templates (USER agent with passwordless sudo) runs sudo, writes the
// workspace as the host user and runs Claude Code.

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/paddockhq/paddock/internal/image/imagetest"
)

// debCache holds what the Debian tests build or download once: the rootfs tarball and .debs.
const debCache = "/var/cache/paddock-test"

// debRootfs returns a gzipped Debian bookworm root filesystem (minbase and sudo) made with
// mmdebstrap; it is built only when the cache lacks it (scripts/test.sh installs mmdebstrap).
func debRootfs(t *testing.T) string {
	t.Helper()
	out := filepath.Join(debCache, "debian-bookworm-sudo-"+runtime.GOARCH+".tar.gz")
	unlock := debLock(t)
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Fatal("these tests build a Debian root filesystem with mmdebstrap: apt-get install mmdebstrap (scripts/test.sh does)")
	}
	raw := filepath.Join(debCache, ".tmp-rootfs.tar")
	defer os.Remove(raw)
	cmd := exec.Command("mmdebstrap", "--quiet", "--variant=minbase", "--include=sudo", "--mode=root",
		"bookworm", raw, "http://deb.debian.org/debian")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v: %s", err, b)
	}
	tmp := out + ".tmp"
	gz, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("gzip", "-1", "-c", raw)
	cmd.Stdout = gz
	if err := cmd.Run(); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	gz.Close()
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// debLock serialises the tests' writes to the cache (parallel test binaries share it).
func debLock(t *testing.T) func() {
	t.Helper()
	if err := os.MkdirAll(debCache, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(debCache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	return func() { f.Close() }
}

// debPackage returns the folder holding the .deb of a small package, downloaded on the host
// (which reaches the Debian mirrors) once: the sandbox has no network.
func debPackage(t *testing.T, pkg string) (dir, file string) {
	t.Helper()
	dir = filepath.Join(debCache, "debs")
	unlock := debLock(t)
	defer unlock()
	os.MkdirAll(dir, 0o755)
	find := func() string {
		m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
		if len(m) > 0 {
			return filepath.Base(m[0])
		}
		return ""
	}
	if f := find(); f != "" {
		return dir, f
	}
	cmd := exec.Command("apt-get", "download", pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		// The host's package lists may be missing on a fresh machine.
		exec.Command("apt-get", "update", "-qq").Run()
		cmd = exec.Command("apt-get", "download", pkg)
		cmd.Dir = dir
		if b2, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get download %s: %v: %s %s", pkg, err, b, b2)
		}
	}
	f := find()
	if f == "" {
		t.Fatalf("apt-get download %s left no .deb in %s", pkg, dir)
	}
	os.Chmod(filepath.Join(dir, f), 0o644)
	return dir, f
}

// debImage is the Debian rootfs as a one-layer image.
func debImage(t *testing.T) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromFile(debRootfs(t))
	if err != nil {
		t.Fatal(err)
	}
	return imagetest.Image(t, runtime.GOARCH, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"bash"},
	}, l)
}

// debRootfsFile reads one file of the Debian rootfs tarball.
func debRootfsFile(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(debRootfs(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the Debian rootfs: %v", name, err)
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}

// sandboxTemplateImage is laid out like Docker's sandbox templates: the Debian rootfs plus a
// layer adding the user agent (uid 1000, home /home/agent) with passwordless sudo; USER agent.
func sandboxTemplateImage(t *testing.T) v1.Image {
	t.Helper()
	base, err := tarball.LayerFromFile(debRootfs(t))
	if err != nil {
		t.Fatal(err)
	}
	add := func(file, line string) string { return debRootfsFile(t, file) + line + "\n" }
	top := imagetest.Tar(t,
		imagetest.Dir("etc", 0o755, 0),
		imagetest.File("etc/passwd", add("etc/passwd", "agent:x:1000:1000::/home/agent:/bin/bash"), 0o644, 0),
		imagetest.File("etc/group", add("etc/group", "agent:x:1000:"), 0o644, 0),
		imagetest.Ent{Name: "etc/shadow", Type: tar.TypeReg, Mode: 0o640, GID: 42,
			Body: add("etc/shadow", "agent:*:19000:0:99999:7:::")},
		imagetest.Dir("etc/sudoers.d", 0o755, 0),
		imagetest.File("etc/sudoers.d/agent", "agent ALL=(ALL) NOPASSWD:ALL\n", 0o440, 0),
		imagetest.Dir("home", 0o755, 0),
		imagetest.Dir("home/agent", 0o750, 1000),
		imagetest.Ent{Name: "home/agent/.profile", Type: tar.TypeReg, Mode: 0o644, UID: 1000, GID: 1000, Body: "export FROM_PROFILE=1\n"},
	)
	return imagetest.Image(t, runtime.GOARCH, v1.Config{
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		User: "agent", WorkingDir: "/home/agent/workspace", Cmd: []string{"bash"},
	}, base, imagetest.Layer(t, top))
}

// layerListing is a digest of every file of a template's layer folders (path, type, mode,
// owner, size, mtime, content): equal before and after means the cache was not touched.
func layerListing(t *testing.T, e *env, ref string) string {
	t.Helper()
	h := sha256.New()
	d := tplInspect(t, e, ref)
	if len(d.LayerDirs) == 0 {
		t.Fatalf("template inspect %s: no layer folders", ref)
	}
	for _, dir := range d.LayerDirs {
		var lines []string
		filepath.WalkDir(filepath.Dir(dir), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				lines = append(lines, p+" error "+err.Error())
				return nil
			}
			var st syscall.Stat_t
			syscall.Lstat(p, &st)
			line := fmt.Sprintf("%s %o %d:%d %d %d", p, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Nano())
			if de.Type().IsRegular() && st.Size < 1<<20 {
				b, _ := os.ReadFile(p)
				s := sha256.Sum256(b)
				line += " " + hex.EncodeToString(s[:8])
			}
			lines = append(lines, line)
			return nil
		})
		sort.Strings(lines)
		io.WriteString(h, strings.Join(lines, "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// protections is state.protections of `paddock inspect`.
func protections(t *testing.T, e *env, name string) map[string]any {
	t.Helper()
	var views []struct {
		State struct {
			Protections map[string]any `json:"protections"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(e.ok("", "inspect", name)), &views); err != nil || len(views) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return views[0].State.Protections
}

// TestDebianTemplateApt: root in a Debian-template sandbox installs a package with apt-get; it
// stays installed across stop and run, is gone with rm, and the template cache never changes.
func TestDebianTemplateApt(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/debian:bookworm", debImage(t))
	debs, deb := debPackage(t, "hello")
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		e.ok("", "template", "pull", ref)
		before := layerListing(t, e, ref)
		r := e.run(ws, "run", "-t", ref, "-v", debs+":/debs:ro", "shell", "-c",
			"command -v hello && echo 'already there'; apt-get install -y /debs/"+deb+" && hello")
		if r.code != 0 || !strings.Contains(r.stdout, "Hello, world!") || strings.Contains(r.stdout, "already there") {
			t.Fatalf("apt-get install in the sandbox: %s", r)
		}
		name := "shell-proj"
		e.ok("", "stop", name)
		if out := e.ok(ws, "run", "shell", "-c", "hello; dpkg-query -W -f='${Status}' hello"); !strings.Contains(out, "Hello, world!") || !strings.Contains(out, "install ok installed") {
			t.Errorf("after stop and run: %q", out)
		}
		// What root did stays in the sandbox: the template cache is unchanged, and a second
		// sandbox of the image does not have it.
		if out := e.ok(e.workspace("other"), "run", "-t", ref, "shell", "-c", "command -v hello || echo absent"); strings.TrimSpace(out) != "absent" {
			t.Errorf("a second sandbox of the image has the first one's package: %q", out)
		}
		e.ok("", "rm", "-f", name)
		if out := e.ok(ws, "run", "-t", ref, "shell", "-c", "command -v hello || echo gone"); strings.TrimSpace(out) != "gone" {
			t.Errorf("after rm: %q", out)
		}
		if after := layerListing(t, e, ref); after != before {
			t.Errorf("the template's layer folders changed while sandboxes installed and were removed")
		}
	})
}

// TestSandboxTemplateSudo: an image laid out like Docker's sandbox templates runs as its user
// agent with its home; `sudo -n` gives root; what the agent makes in the workspace belongs to
// the host user; inspect says that no_new_privs is off and why (the host template keeps it).
func TestSandboxTemplateSudo(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/sandbox-templates:shell", sandboxTemplateImage(t))
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		r := e.run(ws, "run", "-t", ref, "shell", "-c", `id -un; sudo -n id -u; echo "home=$HOME"; pwd; touch "$PWD/by-agent"; sudo -n touch "$PWD/by-root"; mkdir sub && echo x > sub/f`)
		if r.code != 0 {
			t.Fatalf("run: %s", r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || lines[0] != "agent" || lines[1] != "0" || lines[2] != "home=/home/agent" || lines[3] != ws {
			t.Errorf("want agent, 0 (sudo), home=/home/agent and the workspace; got %q (stderr %s)", lines, r.stderr)
		}
		if strings.Contains(r.stderr, "sudo:") {
			t.Errorf("sudo complained: %s", r.stderr)
		}
		for _, f := range []string{"by-agent", "sub", "sub/f"} {
			if uid, gid := tplOwner(t, filepath.Join(ws, f)); uid != e.uid || gid != e.gid {
				t.Errorf("%s made by agent belongs to %d:%d on the host, want the user's %d:%d", f, uid, gid, e.uid, e.gid)
			}
		}
		// The workspace's owner is the agent inside; the agent's home and sudo work in exec too.
		name := "shell-proj"
		if out := e.ok(ws, "exec", name, "sh", "-c", `stat -c %U "$PWD"; echo hi > ~/note; sudo -n cat /etc/shadow >/dev/null && echo sudo-ok`); out != "agent\nsudo-ok\n" {
			t.Errorf("exec as agent: %q", out)
		}
		p := protections(t, e, name)
		if p["no_new_privs"] != false || !strings.Contains(fmt.Sprint(p["no_new_privs_off"]), "setuid") || p["seccomp"] != true || p["capabilities"] != "docker-default" {
			t.Errorf("inspect protections of a sudo template: %v", p)
		}
		// The kernel's view: no_new_privs off, the seccomp filter on, for the agent and under sudo.
		for _, c := range []string{"grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status", "sudo -n grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"} {
			if out := e.ok(ws, "exec", name, "sh", "-c", c); strings.Join(strings.Fields(out), " ") != "NoNewPrivs: 0 Seccomp: 2" {
				t.Errorf("%s: %q", c, out)
			}
		}
		// Seccomp still holds without no_new_privs, also for root through sudo.
		if out := e.ok(ws, "exec", name, "sh", "-c", "sudo -n unshare -U true 2>&1 || echo refused"); !strings.Contains(out, "refused") {
			t.Errorf("unshare through sudo: %q", out)
		}
		if out := e.ok(ws, "exec", name, "sh", "-c", "sudo -n grep CapBnd /proc/self/status"); !strings.Contains(out, "00000000280425fb") {
			t.Errorf("capability bounding set under sudo: %q", out)
		}
		// The host template keeps no_new_privs.
		hws := e.workspace("hostproj")
		e.ok(hws, "run", "-d", "shell")
		if p := protections(t, e, "shell-hostproj"); p["no_new_privs"] != true || p["no_new_privs_off"] != nil {
			t.Errorf("host template protections: %v", p)
		}
		// template rm frees every layer, also those laid out again for the image's user (rootless).
		e.ok("", "rm", "-f", "--all")
		e.ok("", "template", "rm", ref)
		if left, _ := filepath.Glob(filepath.Join(e.phome, "images", "layers", "*", "*")); len(left) != 0 {
			t.Errorf("after template rm, layers are left: %v", left)
		}
	})
}

// TestSandboxTemplateClaude: Claude Code (the real npm package) runs as the template's user,
// with its config volume in that user's home and writable by it.
func TestSandboxTemplateClaude(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/sandbox-templates:claude-code", sandboxTemplateImage(t))
	forEachMode(t, func(t *testing.T, e *env) {
		agSetup(t, e, "")
		in := agEnsureInstalled(t, "claude")
		ws := e.workspace("proj")
		r := e.run(ws, "run", "-t", ref, "claude", "--version")
		if r.code != 0 || !strings.Contains(r.stdout, in.version) {
			t.Fatalf("claude --version in the sandbox template: %s", r)
		}
		out := e.ok(ws, "exec", "claude-proj", "sh", "-c", `id -un; echo "$CLAUDE_CONFIG_DIR"; touch "$CLAUDE_CONFIG_DIR/written" && echo writable`)
		if out != "agent\n/home/agent/.claude\nwritable\n" {
			t.Errorf("as the template's user: %q", out)
		}
	})
}

// dockerEngine fails the test (skips outside CI) when no Docker engine answers: CI starts one
// (scripts/start-dockerd.sh, from scripts/test.sh).
func dockerEngine(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("no Docker engine answers (%v: %s): scripts/test.sh starts one with scripts/start-dockerd.sh", err, strings.TrimSpace(string(out)))
	if os.Getenv("CI") == "" && os.Geteuid() != 0 {
		t.Skip(msg)
	}
	t.Fatal(msg)
}

// TestTemplateImportDockerEngine: the Debian rootfs goes into a real Docker engine with `docker
// import`; paddock imports it from a `docker save` tarball (root and rootless) and straight
// from the engine with docker://, and sandboxes of both run Debian.
func TestTemplateImportDockerEngine(t *testing.T) {
	dockerEngine(t)
	tag := "paddock-test/debian-import:" + fmt.Sprint(os.Getpid())
	if b, err := exec.Command("docker", "import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		debRootfs(t), tag).CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v: %s", err, b)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	sdir, err := os.MkdirTemp(baseDir, "docker-save-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sdir) })
	save := filepath.Join(sdir, "save.tar")
	if b, err := exec.Command("docker", "save", "-o", save, tag).CombinedOutput(); err != nil {
		t.Fatalf("docker save: %v: %s", err, b)
	}
	os.Chmod(filepath.Dir(save), 0o755)
	os.Chmod(save, 0o644)
	forEachMode(t, func(t *testing.T, e *env) {
		out := e.ok("", "template", "import", save)
		if !strings.HasPrefix(out, tag+"@sha256:") {
			t.Fatalf("import of a docker save tarball: %q", out)
		}
		ver := strings.TrimSpace(debRootfsFile(t, "etc/debian_version"))
		if got := e.ok(e.workspace("saved"), "run", "-t", tag, "--pull", "never", "shell", "-c", "cat /etc/debian_version"); strings.TrimSpace(got) != ver {
			t.Errorf("sandbox of the docker save import: %q, want %q", got, ver)
		}
		if e.mode != asRoot {
			return // the engine's socket is root's
		}
		out = e.ok("", "template", "import", "docker://"+tag, "--name", "from-engine:1")
		if !strings.HasPrefix(out, "from-engine:1@sha256:") {
			t.Fatalf("docker:// import: %q", out)
		}
		if got := e.ok(e.workspace("engine"), "run", "-t", "from-engine:1", "--pull", "never", "shell", "-c", "cat /etc/debian_version"); strings.TrimSpace(got) != ver {
			t.Errorf("sandbox of the docker:// import: %q, want %q", got, ver)
		}
		// An image the engine does not have: one line.
		r := e.run("", "template", "import", "docker://paddock-test/absent:1", "--name", "x:1")
		if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != 1 || !strings.Contains(lines[len(lines)-1], "no image paddock-test/absent:1") {
			t.Errorf("docker:// of an image the engine lacks: %s", r)
		}
	})
}
