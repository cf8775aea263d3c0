package native

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/boxinit"
)

// fakeHost lays out a host root the way a merged-/usr Debian has it, with secrets in /etc and
// the folders the host template must never show.
func fakeHost(t *testing.T, withEtcNames bool) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "opt/tool", "etc/ssh",
		"home/alice/.ssh", "root/.ssh", "run/docker", "var/lib", "mnt/disk", "media/usb", "srv/www", "tmp", "boot"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	files := []string{"etc/shadow", "etc/passwd", "etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key.pub",
		"etc/ssh/ssh_host_rsa_key", "etc/ssh/ssh_host_rsa_key.pub", "etc/ssh/ssh_config", "home/alice/.ssh/id_ed25519"}
	if withEtcNames {
		files = append(files, "etc/hostname", "etc/hosts")
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// testSandbox returns a sandbox whose state folder and mount sources live in a temporary folder.
func testSandbox(t *testing.T, mounts func(src string) []backend.Mount) *backend.Sandbox {
	t.Helper()
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	for _, d := range []string{"proj", "deep", "mid", "cfg"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "file.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sb := &backend.Sandbox{ID: strings.Repeat("ab", 32), Name: "shell-proj", Dir: filepath.Join(tmp, "state"),
		Spec: backend.Spec{Template: "host", Hostname: "shell-proj", Workdir: "/work/proj"}}
	if mounts != nil {
		sb.Spec.Mounts = mounts(src)
	}
	return sb
}

func findOp(ops []boxinit.Op, kind, target string) (int, boxinit.Op) {
	for i, op := range ops {
		if op.Op == kind && op.Target == target {
			return i, op
		}
	}
	return -1, boxinit.Op{}
}

func isMount(kind string) bool {
	switch kind {
	case boxinit.OpBind, boxinit.OpTmpfs, boxinit.OpProc, boxinit.OpSysfs, boxinit.OpDevpts:
		return true
	}
	return false
}

// under reports whether p is below (not at) parent.
func under(p, parent string) bool {
	return parent == "/" && p != "/" || strings.HasPrefix(p, parent+"/")
}

func TestHostPlan(t *testing.T) {
	tests := []struct {
		name         string
		withEtcNames bool
		rootSuffix   string // appended to the host root passed to hostPlan
	}{
		{"host with /etc/hostname and /etc/hosts", true, ""},
		{"host without them", false, ""},
		{"host root with a trailing slash", true, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := fakeHost(t, tt.withEtcNames)
			sb := testSandbox(t, func(s string) []backend.Mount {
				return []backend.Mount{
					{Kind: backend.KindWorkspace, Source: filepath.Join(s, "proj"), Target: "/work/proj"},
					{Kind: backend.KindBind, Source: filepath.Join(s, "deep"), Target: "/tmp/x/y"},
					{Kind: backend.KindBind, Source: filepath.Join(s, "mid"), Target: "/tmp/x", ReadOnly: true},
					{Kind: backend.KindBind, Source: filepath.Join(s, "file.txt"), Target: "/root/.config/f.txt", ReadOnly: true},
				}
			})
			ops := hostPlan(sb, host+tt.rootSuffix)

			// System folders: real folders bound read-only, symlinks recreated.
			for _, d := range []string{"usr", "opt", "etc"} {
				i, op := findOp(ops, boxinit.OpBind, "/"+d)
				if i < 0 || op.Source != filepath.Join(host, d) || !op.ReadOnly {
					t.Errorf("/%s: got %+v, want a read-only bind of %s", d, op, filepath.Join(host, d))
				}
			}
			for link, target := range map[string]string{"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"} {
				i, op := findOp(ops, boxinit.OpSymlink, link)
				if i < 0 || op.Link != target {
					t.Errorf("%s: got %+v, want a symlink to %s", link, op, target)
				}
				if j, _ := findOp(ops, boxinit.OpBind, link); j >= 0 {
					t.Errorf("%s is bound though it is a symlink on the host", link)
				}
			}
			for _, d := range []string{"/lib32", "/libx32"} {
				for _, op := range ops {
					if op.Target == d {
						t.Errorf("%s does not exist on the host but the plan has %+v", d, op)
					}
				}
			}

			// Secrets of /etc are masked, public keys and ordinary files are not.
			iEtc, _ := findOp(ops, boxinit.OpBind, "/etc")
			for _, s := range []string{"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssl/private",
				"/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key"} {
				i, _ := findOp(ops, boxinit.OpMask, s)
				if i < 0 {
					t.Errorf("%s is not masked", s)
				} else if i < iEtc {
					t.Errorf("%s is masked (op %d) before /etc is bound (op %d)", s, i, iEtc)
				}
			}
			for _, s := range []string{"/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_rsa_key.pub", "/etc/ssh/ssh_config", "/etc/passwd"} {
				if i, _ := findOp(ops, boxinit.OpMask, s); i >= 0 {
					t.Errorf("%s is masked; it is not a secret", s)
				}
			}
			for _, op := range ops {
				if op.Op == boxinit.OpMask && strings.HasPrefix(op.Target, host) {
					t.Errorf("mask %s names the host path, not the sandbox path", op.Target)
				}
			}

			// The sandbox's own hostname and hosts, from its state folder.
			for _, f := range []string{"hostname", "hosts"} {
				i, op := findOp(ops, boxinit.OpFile, "/etc/"+f)
				if !tt.withEtcNames {
					if i >= 0 {
						t.Errorf("/etc/%s is bound though the host has none: %+v", f, op)
					}
					continue
				}
				if i < 0 || op.Source != filepath.Join(sb.Dir, "etc", f) {
					t.Errorf("/etc/%s: got %+v, want a copy of %s", f, op, filepath.Join(sb.Dir, "etc", f))
				}
			}

			// Never the host's private folders.
			for _, op := range ops {
				if op.Op != boxinit.OpBind {
					continue
				}
				for _, d := range []string{"home", "root", "run", "var", "mnt", "media", "srv", "tmp", "boot"} {
					hp := filepath.Join(host, d)
					if op.Source == hp || under(op.Source, hp) {
						t.Errorf("the plan binds the host's %s: %+v", hp, op)
					}
				}
				for _, p := range []string{"/home", "/root", "/run", "/var"} {
					if op.Source == p || under(op.Source, p) {
						t.Errorf("the plan binds the real host's %s: %+v", p, op)
					}
				}
				if !strings.HasPrefix(op.Source, "/") {
					t.Errorf("bind source %q is not absolute", op.Source)
				}
			}
			if i, op := findOp(ops, boxinit.OpTmpfs, "/home"); i < 0 {
				t.Errorf("/home is not an empty tmpfs: %+v", op)
			}
			if i, _ := findOp(ops, boxinit.OpTmpfs, "/run"); i < 0 {
				t.Errorf("/run is not an empty tmpfs")
			}

			// Private persistent home, /tmp and /var from the state folder.
			for target, dir := range map[string]string{"/root": "home", "/tmp": "tmp", "/var": "var"} {
				i, op := findOp(ops, boxinit.OpBind, target)
				if i < 0 || op.Source != filepath.Join(sb.Dir, dir) || op.ReadOnly {
					t.Errorf("%s: got %+v, want a writable bind of %s", target, op, filepath.Join(sb.Dir, dir))
				}
			}

			// The spec's mounts, each after its parents, with their flags.
			for _, m := range sb.Spec.Mounts {
				i, op := findOp(ops, boxinit.OpBind, m.Target)
				if i < 0 || op.Source != m.Source || op.ReadOnly != m.ReadOnly || !op.Idmap {
					t.Errorf("mount %+v: got %+v", m, op)
				}
				if wantFile := m.Target == "/root/.config/f.txt"; op.File != wantFile {
					t.Errorf("mount %s: File = %v, want %v", m.Target, op.File, wantFile)
				}
			}
			iTmp, _ := findOp(ops, boxinit.OpBind, "/tmp")
			iX, _ := findOp(ops, boxinit.OpBind, "/tmp/x")
			iXY, _ := findOp(ops, boxinit.OpBind, "/tmp/x/y")
			if !(iTmp < iX && iX < iXY) {
				t.Errorf("order of /tmp, /tmp/x, /tmp/x/y = %d, %d, %d; want increasing", iTmp, iX, iXY)
			}

			// In general: nothing is mounted over a folder after something was placed inside it,
			// and every target is absolute.
			for i, op := range ops {
				if !filepath.IsAbs(op.Target) {
					t.Errorf("op %d %+v: target not absolute", i, op)
				}
				for j := i + 1; j < len(ops); j++ {
					if isMount(ops[j].Op) && under(op.Target, ops[j].Target) {
						t.Errorf("op %d (%s %s) is hidden by later op %d (%s %s)", i, op.Op, op.Target, j, ops[j].Op, ops[j].Target)
					}
				}
			}
		})
	}
}

// Spec mounts given deepest first are still placed after their parents.
func TestHostPlanOrdersNestedMounts(t *testing.T) {
	host := fakeHost(t, true)
	sb := testSandbox(t, func(s string) []backend.Mount {
		return []backend.Mount{
			{Kind: backend.KindWorkspace, Source: filepath.Join(s, "proj"), Target: "/srv/a/b/c"},
			{Kind: backend.KindWorkspace, Source: filepath.Join(s, "deep"), Target: "/srv/a/b"},
			{Kind: backend.KindBind, Source: filepath.Join(s, "mid"), Target: "/srv/a"},
			{Kind: backend.KindBind, Source: filepath.Join(s, "cfg"), Target: "/opt/cfg"},
		}
	})
	ops := hostPlan(sb, host)
	var order []string
	for _, op := range ops {
		if op.Op == boxinit.OpBind && (strings.HasPrefix(op.Target, "/srv/") || op.Target == "/opt/cfg") {
			order = append(order, op.Target)
		}
	}
	ia, ib, ic := slices.Index(order, "/srv/a"), slices.Index(order, "/srv/a/b"), slices.Index(order, "/srv/a/b/c")
	if ia < 0 || ib < 0 || ic < 0 || !(ia < ib && ib < ic) {
		t.Fatalf("spec mounts in order %v; want /srv/a before /srv/a/b before /srv/a/b/c", order)
	}
	iOpt, _ := findOp(ops, boxinit.OpBind, "/opt")
	iCfg, _ := findOp(ops, boxinit.OpBind, "/opt/cfg")
	if iOpt < 0 || iCfg < iOpt {
		t.Fatalf("/opt/cfg (op %d) is not after /opt (op %d)", iCfg, iOpt)
	}
}

func TestBaseEnv(t *testing.T) {
	tests := []struct {
		name    string
		specEnv []string
		want    map[string]string // effective values, later entries winning
	}{
		{name: "no spec env", want: map[string]string{"HOME": "/root", "USER": "root", "HOSTNAME": "shell-proj", "PADDOCK_SANDBOX": "shell-proj"}},
		{name: "spec env added", specEnv: []string{"FOO=bar"}, want: map[string]string{"FOO": "bar", "HOME": "/root"}},
		{name: "spec env overrides", specEnv: []string{"PATH=/custom/bin", "LANG=de_DE.UTF-8", "HOME=/home/me"},
			want: map[string]string{"PATH": "/custom/bin", "LANG": "de_DE.UTF-8", "HOME": "/home/me", "USER": "root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := testSandbox(t, nil)
			sb.Spec.Env = slices.Clone(tt.specEnv)
			env := baseEnv(sb)

			// The spec's env comes last, unchanged.
			if len(env) < len(tt.specEnv) || !slices.Equal(env[len(env)-len(tt.specEnv):], tt.specEnv) {
				t.Fatalf("baseEnv = %q; want it to end with the spec's env %q", env, tt.specEnv)
			}
			if !slices.Equal(sb.Spec.Env, tt.specEnv) {
				t.Errorf("baseEnv changed the spec's env to %q", sb.Spec.Env)
			}

			base := env[:len(env)-len(tt.specEnv)]
			bm := map[string]string{}
			for _, kv := range base {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("%q is not KEY=VAL", kv)
				}
				if _, dup := bm[k]; dup {
					t.Fatalf("base env sets %s twice: %q", k, base)
				}
				bm[k] = v
			}
			path := strings.Split(bm["PATH"], ":")
			if path[0] != "/root/.local/bin" {
				t.Errorf("PATH = %q; want /root/.local/bin first", bm["PATH"])
			}
			for _, d := range []string{"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
				if !slices.Contains(path, d) {
					t.Errorf("PATH = %q lacks %s", bm["PATH"], d)
				}
			}
			if p := bm["NPM_CONFIG_PREFIX"]; p == "" || !slices.Contains(path, p+"/bin") {
				t.Errorf("npm's global prefix %q has no bin folder in PATH %q", p, bm["PATH"])
			}
			wantShell := "/bin/sh"
			if _, err := os.Stat("/bin/bash"); err == nil {
				wantShell = "/bin/bash"
			}
			if bm["SHELL"] != wantShell {
				t.Errorf("SHELL = %q, want %q", bm["SHELL"], wantShell)
			}

			eff := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				eff[k] = v
			}
			for k, v := range tt.want {
				if eff[k] != v {
					t.Errorf("effective %s = %q, want %q (env %q)", k, eff[k], v, env)
				}
			}
		})
	}
}
