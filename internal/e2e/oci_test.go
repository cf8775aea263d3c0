package e2e

// End-to-end tests of sandboxes made from OCI templates (issue 3, the engine half): a small
// busybox image built here, served by a real registry on 127.0.0.1, run as root and rootless.

import (
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
	return imagetest.Image(t, goruntime.GOARCH, v1.Config{
		Env:  []string{"PATH=/usr/local/bin:/usr/bin:/bin", "IMG_VAR=from-image"},
		User: "agent", WorkingDir: "/home/agent", Cmd: []string{"/bin/sh"},
	}, imagetest.Layer(t, imagetest.Tar(t, es...)))
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

		// The workspace at its path: what root makes there is the invoking user's on the host.
		e.ok(ws, "exec", "-u", "root", name, "touch", ws+"/made-inside")
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(ws, "made-inside"), &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) != e.uid || int(st.Gid) != e.gid {
			t.Errorf("file made in the workspace belongs to %d:%d on the host, want %d:%d", st.Uid, st.Gid, e.uid, e.gid)
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
