package e2e

// End-to-end tests of sandboxes made from OCI templates (issue 3, the engine half): a small
// busybox image built here, served by a real registry on 127.0.0.1, run as root and rootless.

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/paddockhq/paddock/internal/image/imagetest"
)

// busyboxImage is a tiny image: a static busybox with its applets as symlinks, an /etc/passwd
// with a non-root `agent` user (USER in the config), root's /usr/local, and Env.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	const bb = "/bin/busybox"
	f, err := elf.Open(bb)
	if err != nil {
		t.Fatalf("these tests need a static busybox at %s (apt-get install busybox-static; scripts/test.sh does): %v", bb, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			f.Close()
			t.Fatalf("%s is not static: apt-get install busybox-static (scripts/test.sh does)", bb)
		}
	}
	f.Close()
	body, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	es := []imagetest.Ent{
		imagetest.Dir("./", 0o755, 0), imagetest.Dir("bin", 0o755, 0), imagetest.Dir("etc", 0o755, 0),
		imagetest.Dir("usr", 0o755, 0), imagetest.Dir("usr/local", 0o755, 0), imagetest.Dir("usr/local/bin", 0o755, 0),
		imagetest.Dir("root", 0o700, 0), imagetest.Dir("tmp", 0o1777, 0),
		imagetest.Dir("home", 0o755, 0), imagetest.Dir("home/agent", 0o755, 1000),
		imagetest.File("bin/busybox", string(body), 0o755, 0),
		imagetest.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000::/home/agent:/bin/sh\n", 0o644, 0),
		imagetest.File("etc/group", "root:x:0:\nagent:x:1000:\n", 0o644, 0),
		imagetest.File("etc/hosts", "127.0.0.1 localhost\n", 0o644, 0),
	}
	for _, a := range []string{"sh", "id", "cat", "echo", "ls", "touch", "pwd", "env", "stat", "rm", "whoami", "mkdir", "hostname", "true"} {
		es = append(es, imagetest.Symlink("bin/"+a, "busybox"))
	}
	return imagetest.Image(t, runtime.GOARCH, v1.Config{
		Env:  []string{"PATH=/usr/local/bin:/usr/bin:/bin", "IMG_VAR=from-image"},
		User: "agent", WorkingDir: "/home/agent", Cmd: []string{"/bin/sh"},
	}, imagetest.Layer(t, imagetest.Tar(t, es...)))
}

// mutateEnv is img with other Env.
func mutateEnv(t *testing.T, img v1.Image, env ...string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, env...)
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ociInspect is the part of `paddock inspect` these tests read.
type ociInspect struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	Image    *struct {
		Ref    string `json:"ref"`
		Digest string `json:"digest"`
		User   string `json:"user"`
	} `json:"template_image"`
}

func TestOCITemplateRun(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	img := busyboxImage(t)
	ref := reg.Push(t, "test/img:1", img)
	ref2 := reg.Push(t, "test/img:2", mutateEnv(t, img, "IMG_VAR=second"))
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		r := e.run(ws, "run", "-t", ref, "shell", "-c", `id -un; echo "var=$IMG_VAR"; pwd; hostname`)
		if r.code != 0 {
			t.Fatalf("run -t %s: %s", ref, r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || lines[0] != "agent" || lines[1] != "var=from-image" || lines[2] != ws || lines[3] != "shell-proj" {
			t.Errorf("want agent, the image's env, the workspace and the hostname; got %q", lines)
		}
		name := "shell-proj"

		// The workspace at its path, owned by the image's user inside: what that user makes there
		// is the invoking user's on the host. What root makes there (through exec -u root) is
		// the sandbox's root's: an unprivileged host id, never another host user.
		e.ok(ws, "exec", name, "touch", ws+"/made-by-agent")
		if uid, gid := tplOwner(t, filepath.Join(ws, "made-by-agent")); uid != e.uid || gid != e.gid {
			t.Errorf("file made by the image user in the workspace belongs to %d:%d on the host, want %d:%d", uid, gid, e.uid, e.gid)
		}
		if out := e.ok(ws, "exec", name, "stat", "-c", "%U", ws); strings.TrimSpace(out) != "agent" {
			t.Errorf("the workspace's owner inside: %q, want agent", out)
		}
		e.ok(ws, "exec", "-u", "root", name, "touch", ws+"/made-inside")
		wantRoot := 1 << 30
		if e.mode == asRootless {
			wantRoot = tplSubUIDStart(t, testUser)
		}
		if uid, _ := tplOwner(t, filepath.Join(ws, "made-inside")); uid != wantRoot {
			t.Errorf("file made by root in the workspace belongs to %d on the host, want the sandbox root's %d", uid, wantRoot)
		}
		// exec runs as the image's USER unless -u says otherwise.
		if out := strings.TrimSpace(e.ok(ws, "exec", name, "id", "-u")); out != "1000" {
			t.Errorf("exec default user: id -u = %q, want 1000", out)
		}
		if out := strings.TrimSpace(e.ok(ws, "exec", "-u", "root", name, "id", "-u")); out != "0" {
			t.Errorf("exec -u root: id -u = %q, want 0", out)
		}

		// Root writes to the image's /usr/local: kept across stop/start, gone after rm.
		e.ok(ws, "exec", "-u", "root", name, "sh", "-c", "echo installed > /usr/local/bin/marker")
		e.ok("", "stop", name)
		if out := e.ok(ws, "run", "shell", "-c", "cat /usr/local/bin/marker"); strings.TrimSpace(out) != "installed" {
			t.Errorf("after stop and run: marker = %q", out)
		}

		// inspect names the template by reference and digest.
		var views []ociInspect
		if err := json.Unmarshal([]byte(e.ok("", "inspect", name)), &views); err != nil || len(views) != 1 {
			t.Fatalf("inspect: %v", err)
		}
		if v := views[0]; v.Template != ref || v.Image == nil || v.Image.Ref != ref || v.Image.Digest != digest.String() || v.Image.User != "agent" {
			t.Errorf("inspect: template %q image %+v, want %s @ %s, user agent", v.Template, v.Image, ref, digest)
		}

		// A second sandbox of the same image downloads nothing.
		gets := reg.BlobGets.Load()
		ws2 := e.workspace("other")
		if out := e.ok(ws2, "run", "-t", ref, "shell", "-c", "test -e /usr/local/bin/marker && echo leaked || echo clean"); strings.TrimSpace(out) != "clean" {
			t.Errorf("second sandbox sees the first one's files: %q", out)
		}
		if n := reg.BlobGets.Load() - gets; n != 0 {
			t.Errorf("second sandbox of a cached image downloaded %d blobs", n)
		}

		// --recreate keeps the sandbox's changes while the image stays the same, and starts afresh
		// from another image.
		other := ws2[len(filepath.Dir(ws2))+1:]
		e.ok(ws2, "exec", "-u", "root", "shell-"+other, "sh", "-c", "echo x > /usr/local/bin/mine")
		if out := e.ok(ws2, "run", "--recreate", "-e", "X=1", "shell", "-c", "cat /usr/local/bin/mine"); strings.TrimSpace(out) != "x" {
			t.Errorf("--recreate with the same image lost the sandbox's changes: %q", out)
		}
		if out := e.ok(ws2, "run", "--recreate", "-t", ref2, "shell", "-c", `echo "$IMG_VAR"; cat /usr/local/bin/mine 2>/dev/null || echo fresh`); out != "second\nfresh\n" {
			t.Errorf("--recreate from another image: %q, want its env and a fresh root", out)
		}

		// rm takes the sandbox's changes with it, also files of non-root users (rootless: owned by
		// subordinate ids); the template cache stays.
		e.ok(ws, "exec", name, "sh", "-c", "mkdir -p /home/agent/x/y && touch /home/agent/x/y/z && chmod 555 /home/agent/x")
		e.ok("", "rm", "-f", name)
		if dirs := e.sandboxDirs(); len(dirs) != 1 {
			t.Errorf("after rm: sandbox folders %v, want only the second sandbox's", dirs)
		}
		if out := e.ok(ws, "run", "-t", ref, "--pull", "never", "shell", "-c", "cat /usr/local/bin/marker 2>/dev/null || echo gone"); strings.TrimSpace(out) != "gone" {
			t.Errorf("after rm and a new sandbox: marker = %q", out)
		}

		// --pull never with an image that is not cached: one line.
		r = e.run(e.workspace("never"), "run", "-t", reg.Host+"/test/absent:1", "--pull", "never", "shell", "-c", "true")
		tplOneLine(t, "--pull never, not cached", r, 125, "not in the cache")
		// A reference that cannot be parsed is a usage error.
		r = e.run(e.workspace("bad"), "run", "-t", "Bad Ref!", "shell", "-c", "true")
		tplOneLine(t, "bad reference", r, 2, "Bad Ref!")
	})
}

// TestOCITemplateHostileLinks: an image whose /dev, /run and /etc/hosts are symlinks to host
// paths cannot make paddock create or mount anything there: the plan is applied inside the
// sandbox's root, where those links resolve.
func TestOCITemplateHostileLinks(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	forEachMode(t, func(t *testing.T, e *env) {
		bait := filepath.Join(e.dir, "bait")
		es := []imagetest.Ent{
			imagetest.Dir("./", 0o755, 0), imagetest.Dir("etc", 0o755, 0),
			imagetest.Symlink("dev", bait+"/dev"), imagetest.Symlink("run", bait+"/run"),
			imagetest.Symlink("etc/hosts", bait+"/hosts"), imagetest.Symlink("proc", "../../../../"+bait+"/proc"),
		}
		ref := reg.Push(t, "test/hostile-"+string(e.mode)+":1", imagetest.Image(t, runtime.GOARCH, v1.Config{},
			imagetest.Layer(t, imagetest.Tar(t, es...))))
		r := e.run(e.workspace("proj"), "run", "-t", ref, "shell", "-c", "true")
		if r.code == 0 {
			t.Logf("started anyway: %s", r)
		}
		if _, err := os.Lstat(bait); err == nil {
			t.Errorf("the image's symlinks made paddock create %s on the host (run: %s)", bait, r)
		}
	})
}

// TestOCITemplateUserTableLinks: paddock reads an image's /etc/passwd and /etc/group on the host
// (to decide the image user's id mapping and home). An image whose etc is an absolute link to a
// host folder must not make it read the host's table: here the image carries its own table at
// the link's target, and the host holds a canary table at the same path naming other ids and a
// home. The sandbox runs as the image's own user (or paddock refuses), never as the canary says.
func TestOCITemplateUserTableLinks(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	body, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("these tests need a static busybox at /bin/busybox (scripts/test.sh installs it): %v", err)
	}
	forEachMode(t, func(t *testing.T, e *env) {
		canary := e.mkdir(filepath.Join(e.dir, "host-etc"))
		e.writeFile(filepath.Join(canary, "passwd"), "root:x:0:0:root:/root:/bin/sh\nagent:x:4242:4242::/canary-home:/bin/sh\n")
		e.writeFile(filepath.Join(canary, "group"), "root:x:0:\nagent:x:4242:\n")
		es := []imagetest.Ent{imagetest.Dir("./", 0o755, 0), imagetest.Dir("bin", 0o755, 0),
			imagetest.Dir("tmp", 0o1777, 0), imagetest.Dir("home", 0o755, 0), imagetest.Dir("home/agent", 0o755, 1000),
			imagetest.File("bin/busybox", string(body), 0o755, 0)}
		// The image's own table at the same absolute path as the host's canary folder.
		p := ""
		for _, part := range strings.Split(strings.TrimPrefix(canary, "/"), "/") {
			p = filepath.Join(p, part)
			es = append(es, imagetest.Dir(p, 0o755, 0))
		}
		es = append(es,
			imagetest.File(p+"/passwd", "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000::/home/agent:/bin/sh\n", 0o644, 0),
			imagetest.File(p+"/group", "root:x:0:\nagent:x:1000:\n", 0o644, 0),
			imagetest.File(p+"/hosts", "127.0.0.1 localhost\n", 0o644, 0),
			imagetest.Symlink("etc", canary))
		for _, a := range []string{"sh", "id", "echo", "true"} {
			es = append(es, imagetest.Symlink("bin/"+a, "busybox"))
		}
		ref := reg.Push(t, "test/etc-link-"+string(e.mode)+":1", imagetest.Image(t, runtime.GOARCH, v1.Config{
			Env: []string{"PATH=/bin"}, User: "agent", Cmd: []string{"/bin/sh"},
		}, imagetest.Layer(t, imagetest.Tar(t, es...))))
		r := e.run(e.workspace("proj"), "run", "-t", ref, "shell", "-c", "id -u; echo $HOME")
		if strings.Contains(r.stdout+r.stderr, "4242") || strings.Contains(r.stdout+r.stderr, "canary-home") {
			t.Fatalf("ESCAPE: the sandbox's user was decided by the host's table behind the image's etc link: %s", r)
		}
		if r.code == 0 && strings.Fields(r.stdout)[0] != "1000" {
			t.Errorf("want the image's own user (1000): %s", r)
		}
		t.Logf("%s", r)
	})
}
