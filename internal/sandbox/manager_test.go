package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/hostpath"
	"github.com/paddockhq/paddock/internal/store"
)

func TestDiff(t *testing.T) {
	ws := backend.Mount{Kind: backend.KindWorkspace, Source: "/src/proj", Target: "/src/proj"}
	vol := backend.Mount{Kind: backend.KindBind, Source: "/data", Target: "/mnt/data", ReadOnly: true}
	base := func() backend.Spec {
		return backend.Spec{
			Template: "host", Hostname: "shell-proj", Workdir: "/src/proj",
			Mounts: []backend.Mount{ws, vol},
			Env:    []string{"A=1", "B=2"},
			Limits: backend.Limits{CPUs: 1, MemoryBytes: 512 << 20, Pids: 4096},
		}
	}
	tests := []struct {
		name   string
		change func(*backend.Spec)
		want   []string
	}{
		{name: "equal", change: func(*backend.Spec) {}, want: nil},
		{name: "env in another order", change: func(s *backend.Spec) { s.Env = []string{"B=2", "A=1"} }, want: nil},
		{name: "git identity is not a setting", change: func(s *backend.Spec) { s.GitName, s.GitEmail = "x", "y" }, want: nil},
		{name: "env added", change: func(s *backend.Spec) { s.Env = append(s.Env, "C=3") }, want: []string{"env: +C"}},
		{name: "env changed", change: func(s *backend.Spec) { s.Env = []string{"A=9", "B=2"} }, want: []string{"env: ~A"}},
		{name: "env removed", change: func(s *backend.Spec) { s.Env = []string{"A=1"} }, want: []string{"env: -B"}},
		{name: "env value emptied", change: func(s *backend.Spec) { s.Env = []string{"A=", "B=2"} }, want: []string{"env: ~A"}},
		{name: "env all at once", change: func(s *backend.Spec) { s.Env = []string{"A=9", "C=3"} }, want: []string{"env: +C -B ~A"}},
		{name: "env cleared", change: func(s *backend.Spec) { s.Env = nil }, want: []string{"env: -A -B"}},
		{
			name: "mount added",
			change: func(s *backend.Spec) {
				s.Mounts = append(s.Mounts, backend.Mount{Kind: backend.KindBind, Source: "/cache", Target: "/cache"})
			},
			want: []string{"mounts: /data:/mnt/data:ro -> /data:/mnt/data:ro,/cache"},
		},
		{name: "mount removed", change: func(s *backend.Spec) { s.Mounts = s.Mounts[:1] }, want: []string{"mounts: /data:/mnt/data:ro -> none"}},
		{
			name: "mount made writable",
			change: func(s *backend.Spec) {
				s.Mounts = []backend.Mount{ws, {Kind: backend.KindBind, Source: "/data", Target: "/mnt/data"}}
			},
			want: []string{"mounts: /data:/mnt/data:ro -> /data:/mnt/data"},
		},
		{name: "cpus", change: func(s *backend.Spec) { s.Limits.CPUs = 2.5 }, want: []string{"cpus: 1 -> 2.5"}},
		{name: "cpus removed", change: func(s *backend.Spec) { s.Limits.CPUs = 0 }, want: []string{"cpus: 1 -> none"}},
		{name: "memory", change: func(s *backend.Spec) { s.Limits.MemoryBytes = 2 << 30 }, want: []string{"memory: 512m -> 2g"}},
		{name: "memory removed", change: func(s *backend.Spec) { s.Limits.MemoryBytes = 0 }, want: []string{"memory: 512m -> none"}},
		{name: "pids", change: func(s *backend.Spec) { s.Limits.Pids = 100 }, want: []string{"pids: 4096 -> 100"}},
		{name: "template", change: func(s *backend.Spec) { s.Template = "ubuntu:24.04" }, want: []string{"template: host -> ubuntu:24.04"}},
		{
			name: "several",
			change: func(s *backend.Spec) {
				s.Template = "alpine"
				s.Env = append(s.Env, "C=3")
				s.Limits.CPUs = 2
			},
			want: []string{"template: host -> alpine", "env: +C", "cpus: 1 -> 2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := base()
			tt.change(&want)
			got := Diff(base(), want)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Diff = %q, want %q", got, tt.want)
			}
			if len(tt.want) > 0 && len(Diff(want, want)) != 0 {
				t.Fatalf("Diff of a spec with itself = %q, want none", Diff(want, want))
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"my-project", "my-project"},
		{"My Project", "My-Project"},
		{"a_b.c-d", "a_b.c-d"},
		{"héllo", "h-llo"},
		{".hidden", "hidden"},
		{"-lead-trail-", "lead-trail"},
		{"...", "root"},
		{"/", "root"},
		{"日本", "root"},
		{strings.Repeat("x", 50), strings.Repeat("x", 40)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := sanitize(tt.in)
			if got != tt.want {
				t.Fatalf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if name := "shell-" + got; !nameRE().MatchString(name) {
				t.Fatalf("default name %q is not a valid sandbox name", name)
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	recs := func(names ...string) []*store.Record {
		var rs []*store.Record
		for _, n := range names {
			rs = append(rs, &store.Record{Name: n})
		}
		return rs
	}
	tests := []struct {
		name  string
		taken []*store.Record
		want  string
	}{
		{"free", nil, "shell-proj"},
		{"others only", recs("claude-proj", "shell-other"), "shell-proj"},
		{"taken", recs("shell-proj"), "shell-proj-2"},
		{"taken twice", recs("shell-proj-2", "shell-proj"), "shell-proj-3"},
		{"gap", recs("shell-proj", "shell-proj-3"), "shell-proj-2"},
		{"only a suffixed one taken", recs("shell-proj-2"), "shell-proj"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := uniqueName(tt.taken, "shell-proj"); got != tt.want {
				t.Fatalf("uniqueName = %q, want %q", got, tt.want)
			}
		})
	}
}

func gitCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestGitDirMountsRealWorktree(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	tmp := realTempDir(t)
	mainRepo := mustMkdir(t, filepath.Join(tmp, "main"))
	gitCmd(t, mainRepo, "init", "-q")
	gitCmd(t, mainRepo, "commit", "-q", "--allow-empty", "-m", "init")
	wt := filepath.Join(tmp, "wt")
	gitCmd(t, mainRepo, "worktree", "add", "-q", wt)

	got := gitDirMounts(wt)
	want := []backend.Mount{{Kind: backend.KindGitdir, Source: filepath.Join(mainRepo, ".git"), Target: filepath.Join(mainRepo, ".git")}}
	if ms, _ := worktreeMounts(wt, tmp+"/state"); len(ms) != 1 || ms[0].ID.Zero() || !strings.Contains(ms[0].Why, "worktree wt") {
		t.Fatalf("worktreeMounts(worktree) = %+v, want the repository with its identity and why", ms)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("gitDirMounts(worktree) = %+v, want %+v", got, want)
	}
	if got := gitDirMounts(mainRepo); len(got) != 0 {
		t.Fatalf("gitDirMounts(main checkout) = %+v, want none", got)
	}
}

// gitDirMounts is worktreeMounts as the user describes mounts (no identities, no reasons).
func gitDirMounts(ws string) []backend.Mount {
	ms, _ := worktreeMounts(ws, filepath.Join(filepath.Dir(ws), "state"))
	for i := range ms {
		ms[i].ID, ms[i].Why = hostpath.ID{}, ""
	}
	return ms
}

func TestGitDirMounts(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, tmp string) (ws string, want []backend.Mount)
	}{
		{
			name: "worktree with absolute gitdir",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				common := mustMkdir(t, filepath.Join(tmp, "main", ".git"))
				gd := mustMkdir(t, filepath.Join(common, "worktrees", "wt"))
				mustWrite(t, filepath.Join(gd, "commondir"), "../..\n")
				ws := mustMkdir(t, filepath.Join(tmp, "wt"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+gd+"\n")
				mustWrite(t, filepath.Join(gd, "gitdir"), filepath.Join(ws, ".git")+"\n")
				return ws, []backend.Mount{{Kind: backend.KindGitdir, Source: common, Target: common}}
			},
		},
		{
			name: "worktree with relative gitdir",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				common := mustMkdir(t, filepath.Join(tmp, "main", ".git"))
				gd := mustMkdir(t, filepath.Join(common, "worktrees", "wt"))
				mustWrite(t, filepath.Join(gd, "commondir"), "../..\n")
				ws := mustMkdir(t, filepath.Join(tmp, "nested", "wt"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: ../../main/.git/worktrees/wt\n")
				mustWrite(t, filepath.Join(gd, "gitdir"), filepath.Join(ws, ".git")+"\n")
				return ws, []backend.Mount{{Kind: backend.KindGitdir, Source: common, Target: common}}
			},
		},
		{
			name: "absolute commondir",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				common := mustMkdir(t, filepath.Join(tmp, "main", ".git"))
				gd := mustMkdir(t, filepath.Join(common, "worktrees", "wt"))
				mustWrite(t, filepath.Join(gd, "commondir"), common+"\n")
				ws := mustMkdir(t, filepath.Join(tmp, "wt"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+gd)
				mustWrite(t, filepath.Join(gd, "gitdir"), filepath.Join(ws, ".git")+"\n")
				return ws, []backend.Mount{{Kind: backend.KindGitdir, Source: common, Target: common}}
			},
		},
		{
			name: "main repository reached through a symlink is mounted at its real path",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				common := mustMkdir(t, filepath.Join(tmp, "real", ".git"))
				gd := mustMkdir(t, filepath.Join(common, "worktrees", "wt"))
				mustWrite(t, filepath.Join(gd, "commondir"), "../..\n")
				mustSymlink(t, filepath.Join(tmp, "real"), filepath.Join(tmp, "alias"))
				ws := mustMkdir(t, filepath.Join(tmp, "wt"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+filepath.Join(tmp, "alias", ".git", "worktrees", "wt")+"\n")
				mustWrite(t, filepath.Join(gd, "gitdir"), filepath.Join(ws, ".git")+"\n")
				return ws, []backend.Mount{{Kind: backend.KindGitdir, Source: common, Target: common}}
			},
		},
		{
			name: "submodule: gitdir without commondir",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				gd := mustMkdir(t, filepath.Join(tmp, "super", ".git", "modules", "sub"))
				ws := mustMkdir(t, filepath.Join(tmp, "sub"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+gd+"\n")
				mustWrite(t, filepath.Join(gd, "config"), "[core]\n\tbare = false\n\tworktree = ../../../../sub\n")
				return ws, []backend.Mount{{Kind: backend.KindGitdir, Source: gd, Target: gd}}
			},
		},
		{
			name: "planted: a folder without the repository's back-pointer",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				secret := mustMkdir(t, filepath.Join(tmp, "secret"))
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+secret+"\n")
				return ws, nil
			},
		},
		{
			name: "planted: a worktree entry of another folder",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				common := mustMkdir(t, filepath.Join(tmp, "main", ".git"))
				gd := mustMkdir(t, filepath.Join(common, "worktrees", "other"))
				mustWrite(t, filepath.Join(gd, "commondir"), "../..\n")
				mustWrite(t, filepath.Join(gd, "gitdir"), filepath.Join(tmp, "other", ".git")+"\n")
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+gd+"\n")
				return ws, nil
			},
		},
		{
			name: "planted: commondir leading elsewhere",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				mustMkdir(t, filepath.Join(tmp, "home", "worktrees"))
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				gd := mustMkdir(t, filepath.Join(ws, "fake"))
				mustWrite(t, filepath.Join(gd, "commondir"), filepath.Join(tmp, "home")+"\n")
				mustWrite(t, filepath.Join(gd, "gitdir"), filepath.Join(ws, ".git")+"\n")
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: fake\n")
				return ws, nil
			},
		},
		{
			name: "planted: inside paddock's state folder",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				common := mustMkdir(t, filepath.Join(tmp, "state", "repo.git"))
				gd := mustMkdir(t, filepath.Join(common, "worktrees", "ws"))
				mustWrite(t, filepath.Join(gd, "commondir"), "../..\n")
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				mustWrite(t, filepath.Join(gd, "gitdir"), filepath.Join(ws, ".git")+"\n")
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+gd+"\n")
				return ws, nil
			},
		},
		{
			name: "planted: .git a FIFO",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				if err := syscall.Mkfifo(filepath.Join(ws, ".git"), 0o644); err != nil {
					t.Fatal(err)
				}
				return ws, nil
			},
		},
		{
			name: "planted: .git a symlink to /dev/zero",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				mustSymlink(t, "/dev/zero", filepath.Join(ws, ".git"))
				return ws, nil
			},
		},
		{
			name: "normal .git folder",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				ws := mustMkdir(t, filepath.Join(tmp, "repo"))
				mustMkdir(t, filepath.Join(ws, ".git", "objects"))
				mustWrite(t, filepath.Join(ws, ".git", "HEAD"), "ref: refs/heads/main\n")
				return ws, nil
			},
		},
		{
			name: "no .git",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				return mustMkdir(t, filepath.Join(tmp, "plain")), nil
			},
		},
		{
			name: "gitdir inside the workspace",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				mustMkdir(t, filepath.Join(ws, ".realgit"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: .realgit\n")
				return ws, nil
			},
		},
		{
			name: "gitdir that does not exist",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				mustWrite(t, filepath.Join(ws, ".git"), "gitdir: "+filepath.Join(tmp, "gone", ".git", "worktrees", "ws")+"\n")
				return ws, nil
			},
		},
		{
			name: ".git file without gitdir line",
			setup: func(t *testing.T, tmp string) (string, []backend.Mount) {
				ws := mustMkdir(t, filepath.Join(tmp, "ws"))
				mustWrite(t, filepath.Join(ws, ".git"), "something else\n")
				return ws, nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := realTempDir(t)
			ws, want := tt.setup(t, tmp)
			ms, _ := worktreeMounts(ws, filepath.Join(tmp, "state"))
			for i := range ms {
				ms[i].ID, ms[i].Why = hostpath.ID{}, ""
			}
			got := ms
			if !slices.Equal(got, want) {
				t.Fatalf("gitDirMounts(%s) = %+v, want %+v", ws, got, want)
			}
		})
	}
}

func TestResolveWorkspace(t *testing.T) {
	tmp := realTempDir(t)
	home := mustMkdir(t, filepath.Join(tmp, "home"))
	t.Setenv("HOME", home)
	state := mustMkdir(t, filepath.Join(tmp, "state"))
	m := &Manager{Store: &store.Store{Root: state}}

	proj := mustMkdir(t, filepath.Join(tmp, "proj"))
	link := mustSymlink(t, proj, filepath.Join(tmp, "projlink"))
	homeProj := mustMkdir(t, filepath.Join(home, "code", "proj"))
	homeLink := mustSymlink(t, home, filepath.Join(tmp, "homelink"))
	file := mustWrite(t, filepath.Join(tmp, "file.txt"), "x")
	inState := mustMkdir(t, filepath.Join(state, "sandboxes", "abc"))
	mustMkdir(t, filepath.Join(tmp, "stateish"))

	tests := []struct {
		name    string
		dir     string
		force   bool
		want    string
		wantErr []string
	}{
		{name: "normal folder", dir: proj, want: proj},
		{name: "through a symlink", dir: link, want: proj},
		{name: "with trailing slash and dots", dir: proj + "/../proj/", want: proj},
		{name: "inside home", dir: homeProj, want: homeProj},
		{name: "prefix of state name is not inside it", dir: filepath.Join(tmp, "stateish"), want: filepath.Join(tmp, "stateish")},
		{name: "home with force, state elsewhere", dir: home, force: true, want: home},
		{name: "root", dir: "/", wantErr: []string{"refusing to use /", "--force"}},
		{name: "home", dir: home, wantErr: []string{"refusing to use your home folder", home, "--force"}},
		{name: "home through a symlink", dir: homeLink, wantErr: []string{"home folder"}},
		{name: "a file", dir: file, wantErr: []string{"not a folder"}},
		{name: "missing", dir: filepath.Join(tmp, "missing"), wantErr: []string{"does not exist"}},
		{name: "system folder /usr", dir: "/usr", wantErr: []string{"/usr", "system folder"}},
		{name: "system folder /etc", dir: "/etc", wantErr: []string{"system folder"}},
		{name: "system folder /usr/local/bin", dir: "/usr/local/bin", wantErr: []string{"system folder"}},
		{name: "system folder with force", dir: "/usr", force: true, wantErr: []string{"system folder"}},
		{name: "inside the state folder", dir: inState, wantErr: []string{"paddock's state folder"}},
		{name: "the state folder", dir: state, wantErr: []string{"paddock's state folder"}},
		{name: "containing the state folder", dir: tmp, wantErr: []string{"paddock's state folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.ResolveWorkspace(tt.dir, tt.force)
			if tt.wantErr != nil {
				checkBadInput(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("ResolveWorkspace(%q, %v): %v", tt.dir, tt.force, err)
			}
			if got != tt.want {
				t.Fatalf("ResolveWorkspace(%q, %v) = %q, want %q", tt.dir, tt.force, got, tt.want)
			}
		})
	}

	t.Run("HOME given through a symlink", func(t *testing.T) {
		t.Setenv("HOME", homeLink)
		for _, dir := range []string{home, homeLink} {
			_, err := m.ResolveWorkspace(dir, false)
			checkBadInput(t, err, "refusing to use your home folder", home)
		}
	})

	t.Run("current folder", func(t *testing.T) {
		t.Chdir(link)
		got, err := m.ResolveWorkspace("", false)
		if err != nil || got != proj {
			t.Fatalf("ResolveWorkspace(\"\") in %s = %q, %v; want %q", link, got, err, proj)
		}
	})
}

// product.md item 10: a workspace of / or $HOME is "refused unless forced", and the refusal
// tells the user to pass --force. With --force it must then be accepted, also when paddock's
// state folder is in its default place under $HOME (the state folder must then be kept out of
// the sandbox some other way).
func TestResolveWorkspaceForceIsHonoured(t *testing.T) {
	tmp := realTempDir(t)
	home := mustMkdir(t, filepath.Join(tmp, "home"))
	t.Setenv("HOME", home)
	defaultState := mustMkdir(t, filepath.Join(home, ".local", "share", "paddock"))
	m := &Manager{Store: &store.Store{Root: defaultState}}
	for _, tt := range []struct{ name, dir string }{{"root", "/"}, {"home", home}} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.ResolveWorkspace(tt.dir, false)
			checkBadInput(t, err, "--force")
			got, err := m.ResolveWorkspace(tt.dir, true)
			if err != nil || got != tt.dir {
				t.Fatalf("ResolveWorkspace(%q, force) = %q, %v; want %q accepted, as the refusal without --force promised", tt.dir, got, err, tt.dir)
			}
		})
	}
}

// The state folder may be given through a symlink (PADDOCK_HOME, or a $HOME under a symlinked
// /home); a workspace inside its real path still overlaps it.
func TestResolveWorkspaceStateThroughSymlink(t *testing.T) {
	tmp := realTempDir(t)
	t.Setenv("HOME", mustMkdir(t, filepath.Join(tmp, "home")))
	realState := mustMkdir(t, filepath.Join(tmp, "realstate"))
	m := &Manager{Store: &store.Store{Root: mustSymlink(t, realState, filepath.Join(tmp, "statelink"))}}
	for _, dir := range []string{realState, mustMkdir(t, filepath.Join(realState, "sandboxes", "abc"))} {
		got, err := m.ResolveWorkspace(dir, false)
		if err == nil {
			t.Fatalf("ResolveWorkspace(%q) = %q; want a refusal: it is paddock's state folder %s (through a symlink)", dir, got, m.Store.Root)
		}
		checkBadInput(t, err, "paddock's state folder")
	}
}
