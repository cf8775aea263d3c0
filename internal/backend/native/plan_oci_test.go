package native

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/boxinit"
)

// fakeLayers makes two layer folders: the base has /etc/hosts and /etc/hostname, the top
// whites out /etc/hostname (a 0/0 character device, when this process may make one).
func fakeLayers(t *testing.T) []string {
	t.Helper()
	base, top := filepath.Join(t.TempDir(), "base"), filepath.Join(t.TempDir(), "top")
	for _, d := range []string{base + "/etc", base + "/usr/bin", top + "/etc"} {
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(base+"/etc/hosts", []byte("x"), 0o644)
	os.WriteFile(base+"/etc/hostname", []byte("x"), 0o644)
	os.WriteFile(base+"/usr/bin/bash", []byte("x"), 0o755)
	os.Symlink("usr/bin", base+"/bin")
	if err := syscall.Mknod(top+"/etc/hostname", syscall.S_IFCHR, 0); err != nil {
		t.Logf("no whiteout (%v): the top layer brings its own hostname", err)
		os.WriteFile(top+"/etc/hostname", []byte("y"), 0o644)
	}
	return []string{base, top}
}

func TestOCIPlan(t *testing.T) {
	img := &backend.Image{Ref: "example.com/img:1", Digest: "sha256:00", LayerDirs: fakeLayers(t),
		User: "agent", Env: []string{"PATH=/opt/bin:/usr/bin", "FOO=image", "BAR=image"}}
	sb := &backend.Sandbox{ID: "0123456789abcdef", Name: "shell-proj", Dir: t.TempDir(), Spec: backend.Spec{
		Template: img.Ref, Image: img, Hostname: "shell-proj", Workdir: "/src/proj", Env: []string{"BAR=user"},
		Mounts: []backend.Mount{{Kind: backend.KindWorkspace, Source: "/src/proj", Target: "/src/proj"},
			{Kind: backend.KindAgent, Source: "/cache/agent", Target: "/paddock/agent", ReadOnly: true}}}}
	ops := ociPlan(sb)
	var targets []string
	for _, op := range ops {
		targets = append(targets, op.Op+" "+op.Target)
		if op.Op == boxinit.OpBind && (strings.HasPrefix(op.Target, "/usr") || op.Target == "/etc" || op.Target == HomeDir || op.Target == "/var" || op.Target == "/tmp") {
			t.Errorf("an OCI sandbox shows %s from the host: %+v", op.Target, op)
		}
		if op.Op == boxinit.OpMask && strings.HasPrefix(op.Target, "/etc/") {
			t.Errorf("an OCI sandbox masks the image's own %s", op.Target)
		}
	}
	for _, want := range []string{"file /etc/hosts", "tmpfs /dev", "proc /proc", "sysfs /sys", "tmpfs /run",
		"mask /proc/kcore", "bind /src/proj", "bind /paddock/agent"} {
		if !slices.Contains(targets, want) {
			t.Errorf("plan lacks %q: %v", want, targets)
		}
	}
	whiteout := false
	if st, err := os.Lstat(img.LayerDirs[1] + "/etc/hostname"); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		whiteout = true
	}
	if slices.Contains(targets, "bind /etc/hostname") == whiteout {
		t.Errorf("/etc/hostname bound %v, but whited out %v: %v", !whiteout, whiteout, targets)
	}
	if !img.Has("/bin/bash") || img.Has("/bin/zsh") || img.Has("/usr/bin") {
		t.Error("Image.Has: want /bin/bash (through the layer's /bin symlink), not /bin/zsh nor a folder")
	}
	if w := writablePaths(sb); !slices.Equal(w, []string{"/"}) {
		t.Errorf("Landlock writable %v, want the whole root", w)
	}
	env := ociEnv(sb)
	idx := func(kv string) int { return slices.Index(env, kv) }
	if idx("PATH=/opt/bin:/paddock/agent/node_modules/.bin:/usr/bin") >= 0 || idx("PATH=/paddock/agent/node_modules/.bin:/opt/bin:/usr/bin") < 0 {
		t.Errorf("PATH: the image's, with the agent's commands first: %v", env)
	}
	if idx("FOO=image") < 0 || idx("BAR=user") < idx("BAR=image") || idx("HOSTNAME=shell-proj") < 0 {
		t.Errorf("env: the image's, then paddock's, then -e: %v", env)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "NPM_CONFIG_PREFIX=") || (strings.HasPrefix(kv, "PATH=") && kv != "PATH=/paddock/agent/node_modules/.bin:/opt/bin:/usr/bin") {
			t.Errorf("env has host-template setting %s", kv)
		}
	}
}
