package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What a sandbox can make paddock itself do on the host through what it writes: the workspace's
// .git, the folders it mounts. Each probe runs on the native backend (root and rootless) and,
// where the Docker backend reads the same input, on it too.

// hwBackends runs fn on the native backend as root and as an ordinary user, then on the Docker
// backend; pre are the flags that choose the backend.
func hwBackends(t *testing.T, fn func(t *testing.T, e *env, pre []string)) {
	forEachMode(t, func(t *testing.T, e *env) { fn(t, e, nil) })
	t.Run("docker", func(t *testing.T) {
		e, _ := dockerEnv(t)
		fn(t, e, []string{"--backend", "docker"})
	})
}

func hwArgs(pre []string, args ...string) []string {
	return append(append([]string{}, pre...), args...)
}

// hwSecret makes a host folder outside the workspace holding a secret.
func hwSecret(t *testing.T, e *env) (dir, secret string) {
	dir = e.mkdir(filepath.Join(e.dir, "private"))
	secret = "secret-" + hosRandom()
	e.writeFile(filepath.Join(dir, "key"), secret)
	return dir, secret
}

// A .git file the sandbox plants never chooses a host mount: the next create (here rm + run)
// ignores it, says so, and shows nothing of the folder it names.
func TestHostileWorkspaceGitdir(t *testing.T) {
	hwBackends(t, func(t *testing.T, e *env, pre []string) {
		ws := e.workspace("proj")
		priv, secret := hwSecret(t, e)
		e.ok(ws, hwArgs(pre, "run", "shell", "-c", "printf 'gitdir: "+priv+"\\n' > .git")...)
		e.ok("", "rm", "-f", "shell-proj")
		r := e.run(ws, hwArgs(pre, "run", "shell", "-c", "cat "+priv+"/key; echo done")...)
		if r.code != 0 || strings.Contains(r.stdout, secret) || !strings.Contains(r.stdout, "done") {
			t.Fatalf("the planted .git mounted %s: %s", priv, r)
		}
		if !strings.Contains(r.stderr, "not mounting the git folder") {
			t.Errorf("no note about the planted .git: %s", r.stderr)
		}
		if out := e.ok("", "inspect", "shell-proj"); strings.Contains(out, priv) {
			t.Fatalf("inspect shows %s mounted:\n%s", priv, out)
		}
	})
}

// A repository mount recorded before paddock checked worktrees (here written into the record)
// is checked again at the next start and dropped, with a note, when nothing validates it.
func TestHostileWorkspaceGitdirRecorded(t *testing.T) {
	hwBackends(t, func(t *testing.T, e *env, pre []string) {
		ws := e.workspace("proj")
		priv, secret := hwSecret(t, e)
		e.ok(ws, hwArgs(pre, "run", "shell", "-c", "printf 'gitdir: "+priv+"\\n' > .git")...)
		e.ok("", "stop", "shell-proj")
		dirs := e.sandboxDirs()
		if len(dirs) != 1 {
			t.Fatalf("sandboxes: %v", dirs)
		}
		path := filepath.Join(e.phome, "sandboxes", dirs[0], "record.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		spec := rec["spec"].(map[string]any)
		spec["mounts"] = append(spec["mounts"].([]any), map[string]any{"kind": "gitdir", "source": priv, "target": priv, "read_only": false})
		b, _ = json.Marshal(rec)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r := e.run(ws, hwArgs(pre, "run", "shell", "-c", "cat "+priv+"/key; echo done")...)
		if r.code != 0 || strings.Contains(r.stdout, secret) || !strings.Contains(r.stderr, "no longer mounting "+priv) {
			t.Fatalf("the recorded repository mount was not checked again: %s", r)
		}
		if out := e.ok("", "inspect", "shell-proj"); strings.Contains(out, priv) {
			t.Fatalf("inspect still shows %s:\n%s", priv, out)
		}
	})
}

// A real worktree keeps working, and inspect says why its repository is mounted.
func TestHostileWorkspaceRealWorktree(t *testing.T) {
	hwBackends(t, func(t *testing.T, e *env, pre []string) {
		repo := e.mkdir(filepath.Join(e.dir, "repo"))
		git := func(args ...string) {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=T", "-c", "user.email=t@x", "-c", "init.defaultBranch=main"}, args...)...)
			cmd.Env = []string{"HOME=" + e.home, "PATH=/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM=1"}
			if e.mode == asRootless {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uid), Gid: uint32(e.gid)}}
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		git("init", "-q")
		git("commit", "-q", "--allow-empty", "-m", "init")
		wt := filepath.Join(e.dir, "wt")
		git("worktree", "add", "-q", wt)
		r := e.run(wt, hwArgs(pre, "run", "shell", "-c", "git -c safe.directory='*' log --oneline | wc -l")...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != "1" {
			t.Fatalf("git in the worktree: %s", r)
		}
		var v []struct {
			Mounts struct {
				Extra []struct{ Kind, Source, Why string } `json:"extra"`
			} `json:"mounts"`
		}
		if err := json.Unmarshal([]byte(e.ok("", "inspect", "shell-wt")), &v); err != nil || len(v) != 1 {
			t.Fatalf("inspect: %v", err)
		}
		if ex := v[0].Mounts.Extra; len(ex) != 1 || ex[0].Source != filepath.Join(repo, ".git") || !strings.Contains(ex[0].Why, "worktree") {
			t.Fatalf("inspect's mounts: %+v", v[0].Mounts)
		}
	})
}

// A -v folder inside the workspace, or a nested extra workspace, that the sandbox replaces by a
// symlink is refused at the next start, in one line, instead of being followed; so is a new
// folder made at its path.
func TestHostileWorkspaceMountSwap(t *testing.T) {
	hwBackends(t, func(t *testing.T, e *env, pre []string) {
		for _, tc := range []struct {
			name   string
			create func(ws, inner string)
		}{
			{"-v", func(ws, inner string) {
				e.ok(ws, hwArgs(pre, "run", "-v", inner+":/mnt/data", "shell", "-c", "true")...)
			}},
			{"nested workspace", func(ws, inner string) {
				e.ok(e.dir, hwArgs(pre, "create", "shell", ws, inner)...)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				se := *e
				se.t = t
				e := &se
				proj := "proj-" + strings.ReplaceAll(strings.Trim(tc.name, "-"), " ", "-")
				ws := e.workspace(proj)
				defer e.run("", "rm", "-f", "shell-"+proj)
				// The folder is ws/a/data; the sandbox swaps a for a symlink to a host folder
				// with a data/key of its own (a component on the way, not the mount point).
				inner := e.mkdir(filepath.Join(ws, "a", "data"))
				priv := e.mkdir(filepath.Join(e.dir, "private-"+strings.ReplaceAll(tc.name, " ", "-")))
				e.mkdir(filepath.Join(priv, "data"))
				secret := "secret-" + hosRandom()
				e.writeFile(filepath.Join(priv, "data", "key"), secret)
				tc.create(ws, inner)
				a := filepath.Join(ws, "a")
				e.ok(ws, hwArgs(pre, "run", "shell", "-c", "mv "+a+" "+a+".old && ln -s "+priv+" "+a)...)
				e.ok("", "stop", "shell-"+proj)
				r := e.run(ws, hwArgs(pre, "run", "shell", "-c", "cat /mnt/data/key "+inner+"/key")...)
				if r.code == 0 || strings.Contains(r.stdout, secret) {
					t.Fatalf("the swapped source was followed: %s", r)
				}
				if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "no longer the folder") {
					t.Fatalf("want one line saying the folder changed: %s", r)
				}
				// Put back as a folder of its own, it is still not the one the user named.
				os.Remove(a)
				e.mkdir(inner)
				if r := e.run(ws, hwArgs(pre, "run", "shell", "-c", "true")...); r.code == 0 {
					t.Fatalf("a new folder at the path was mounted: %s", r)
				}
			})
		}
	})
}

// No setuid or setgid file can be made in the workspace, on either backend.
func TestHostileWorkspaceSetuid(t *testing.T) {
	hwBackends(t, func(t *testing.T, e *env, pre []string) {
		ws := e.workspace("proj")
		r := e.run(ws, hwArgs(pre, "run", "shell", "-c",
			`cp /bin/sh s; chmod 4755 s; echo u=$?; chmod 2755 s; echo g=$?; `+
				`mknod f p 2>/dev/null; touch t; chmod u+s t; echo t=$?`)...)
		if r.code != 0 {
			t.Fatalf("probe: %s", r)
		}
		for _, f := range []string{"s", "t"} {
			st, err := os.Stat(filepath.Join(ws, f))
			if err != nil {
				t.Fatalf("%v: %s", err, r)
			}
			if st.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
				t.Errorf("%s is %v on the host", f, st.Mode())
			}
		}
		if !strings.Contains(r.stdout, "u=1") || !strings.Contains(r.stdout, "g=1") || !strings.Contains(r.stdout, "t=1") {
			t.Errorf("chmod did not fail: %s", r)
		}
	})
}

// A FIFO at .git, a .git leading to /dev/zero or a huge .git: the next create neither blocks nor
// reads without bound.
func TestHostileWorkspaceGitFIFO(t *testing.T) {
	hwBackends(t, func(t *testing.T, e *env, pre []string) {
		ws := e.workspace("proj")
		for _, plant := range []string{"mkfifo .git", "ln -s /dev/zero .git", "dd if=/dev/zero of=.git bs=1 count=0 seek=2000000000 2>/dev/null"} {
			e.ok(ws, hwArgs(pre, "run", "shell", "-c", "rm -f .git; "+plant)...)
			e.ok("", "rm", "-f", "shell-proj")
			start := time.Now()
			if r := e.run(ws, hwArgs(pre, "run", "shell", "-c", "echo ok")...); r.code != 0 || r.stdout != "ok\n" {
				t.Fatalf("%s: %s", plant, r)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("%s: run took %v", plant, d)
			}
		}
	})
}

// The host's boot id does not reach the sandbox: each has its own (native backend; Docker shows the host's to
// every container, and its runtime refuses a mount there).
func TestHostileBootID(t *testing.T) {
	host, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		in := e.ok(ws, "run", "shell", "-c", "cat /proc/sys/kernel/random/boot_id")
		if in == string(host) || len(strings.TrimSpace(in)) != 36 {
			t.Fatalf("boot id inside %q, host's %q", in, host)
		}
		other := e.ok(e.workspace("other"), "run", "shell", "-c", "cat /proc/sys/kernel/random/boot_id")
		if other == in || other == string(host) {
			t.Errorf("boot ids: %q and %q in two sandboxes, the host's %q", in, other, host)
		}
	})
}
