package e2e

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/paddockhq/paddock/internal/mcpserver"
)

// branchRepo makes a repository from a real project's history: golang.org/x/term from the Go
// module cache (the project's own dependency), committed in three steps; owned by the env's user.
func branchRepo(t *testing.T, e *env, name string) string {
	t.Helper()
	// PADDOCK_E2E_TERM_ZIP: the module's zip where there is no Go (the VM lane copies it in).
	zips := []string{os.Getenv("PADDOCK_E2E_TERM_ZIP")}
	if zips[0] == "" {
		cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			t.Fatal(err)
		}
		zips, _ = filepath.Glob(filepath.Join(strings.TrimSpace(string(cache)), "cache", "download", "golang.org", "x", "term", "@v", "*.zip"))
	}
	if len(zips) == 0 {
		t.Fatal("golang.org/x/term is not in the Go module cache (go mod download fills it)")
	}
	zr, err := zip.OpenReader(zips[len(zips)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	repo := e.workspace(name)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "safe.directory=*"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Upstream", "GIT_AUTHOR_EMAIL=up@example.test",
			"GIT_COMMITTER_NAME=Upstream", "GIT_COMMITTER_EMAIL=up@example.test")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	var files []*zip.File
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			files = append(files, f)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for step := range 3 {
		for i, f := range files {
			if i%3 != step {
				continue
			}
			at := strings.Index(f.Name, "@")
			rel := f.Name[at+strings.Index(f.Name[at:], "/")+1:]
			dst := filepath.Join(repo, rel)
			os.MkdirAll(filepath.Dir(dst), 0o755)
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			os.WriteFile(dst, b, 0o644)
		}
		git("add", "-A")
		git("commit", "-q", "-m", fmt.Sprintf("import step %d", step+1))
	}
	filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			os.Lchown(p, e.uid, e.gid)
		}
		return nil
	})
	return repo
}

// repoState is a hash of everything of the user's: the working tree, the index, HEAD and refs.
func repoState(t *testing.T, repo string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		if d.IsDir() && rel == filepath.Join(".git", "objects") {
			return fs.SkipDir // objects may be added (diff brings the sandbox's work in as objects)
		}
		if d.IsDir() && (rel == filepath.Join(".git", "refs", "remotes", "paddock") || rel == filepath.Join(".git", "logs", "refs", "remotes", "paddock")) {
			return fs.SkipDir // paddock's review refs (paddock/NAME), checked on their own
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			fmt.Fprintf(h, "%s %x\n", rel, sha256.Sum256(b))
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

// Branch mode, root and rootless and on Docker: three sandboxes of one repository work at once on
// their own branches, two of them editing the same lines; the user's tree, index and refs stay
// byte-identical until merge; diff shows each one's work; merge brings one in (fast-forward),
// refuses the conflicting one with nothing changed, and merges the third; a sandbox's planted
// git hooks and config never run on the host; rm refuses to drop unmerged work without -f.
func TestBranch(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) { checkBranch(t, e, nil) })
}

func TestBranchDocker(t *testing.T) {
	forEachDockerMode(t, func(t *testing.T, e *env) { checkBranch(t, e, []string{"--backend", "docker"}) })
}

func checkBranch(t *testing.T, e *env, backend []string) {
	repo := branchRepo(t, e, "term")
	pd := func(args ...string) result { return e.run(repo, append(append([]string{}, backend...), args...)...) }
	ok := func(args ...string) string {
		t.Helper()
		r := pd(args...)
		if r.code != 0 {
			t.Fatalf("paddock %s: %s", strings.Join(args, " "), r)
		}
		return r.stdout
	}
	before := repoState(t, repo)
	marker := filepath.Join(e.dir, "pwned-on-the-host")
	edits := map[string]string{
		"a": `sed -i 's/^package term$/package term \/\/ edited by a/' term.go && git commit -qam "a: edit term.go"`,
		"b": `sed -i 's/^package term$/package term \/\/ edited by b/' term.go && git commit -qam "b: edit term.go"
			git config core.fsmonitor "touch ` + marker + `"; git config core.hooksPath .git/hooks
			mkdir -p .git/hooks; 			printf '#!/bin/sh\ntouch ` + marker + `\n' > .git/hooks/post-merge; chmod +x .git/hooks/post-merge
			cp .git/hooks/post-merge .git/hooks/post-checkout; cp .git/hooks/post-merge .git/hooks/pre-commit`,
		"c": `echo "// added by c" >> README.md && git commit -qam "c: note in README" && echo uncommitted > NEW.txt`,
		"d": `echo "// added by d" >> term_unix.go && git commit -qam "d: first note" && echo "// more by d" >> term_unix.go && git commit -qam "d: second note"`,
	}
	var wg sync.WaitGroup
	results := map[string]result{}
	var mu sync.Mutex
	for name, script := range edits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := pd("run", "--branch="+name, "shell", "-c", "set -e; test \"$(git branch --show-current)\" = paddock/"+name+"; "+script)
			mu.Lock()
			results[name] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	for name, r := range results {
		if r.code != 0 {
			t.Fatalf("branch sandbox %s: %s", name, r.String())
		}
	}
	if repoState(t, repo) != before {
		t.Fatal("the sandboxes changed the user's repository")
	}
	stat := ok("diff", "--stat", "a")
	if !strings.Contains(stat, "term.go") || !strings.Contains(stat, "1 file changed") {
		t.Errorf("diff --stat a: %s", stat)
	}
	// Its branch is reachable in the user's repository for review: paddock/a.
	if out, err := exec.Command("git", "-C", repo, "-c", "safe.directory=*", "log", "-1", "--format=%s", "paddock/a").Output(); err != nil || strings.TrimSpace(string(out)) != "a: edit term.go" {
		t.Errorf("git log paddock/a after diff: %q %v", out, err)
	}
	if d := ok("diff", "c"); !strings.Contains(d, "+// added by c") || !strings.Contains(d, "+uncommitted") {
		t.Errorf("diff c (with its uncommitted file): %s", d)
	}
	if d := ok("diff", "--committed", "c"); strings.Contains(d, "+uncommitted") {
		t.Errorf("diff --committed c shows uncommitted changes: %s", d)
	}
	var ls []struct {
		Name   string `json:"name"`
		Branch *struct {
			Name  string `json:"name"`
			Ahead int    `json:"commits_ahead"`
		} `json:"branch"`
	}
	json.Unmarshal([]byte(ok("ls", "-a", "--json")), &ls)
	for _, l := range ls {
		if l.Branch == nil || l.Branch.Name != "paddock/"+l.Name {
			t.Errorf("ls: %+v", l)
		}
	}
	if repoState(t, repo) != before {
		t.Fatal("diff or ls changed the user's repository")
	}
	ok("merge", "a")
	if b, _ := os.ReadFile(filepath.Join(repo, "term.go")); !strings.Contains(string(b), "edited by a") {
		t.Fatal("merge a did not bring its change")
	}
	afterA := repoState(t, repo)
	r := pd("merge", "b")
	if r.code == 0 || !strings.Contains(r.stderr, "conflict") || !strings.Contains(r.stderr, "term.go") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("merge b (conflicting): want one line naming term.go: %s", r)
	}
	if repoState(t, repo) != afterA {
		t.Fatal("a refused merge changed the user's repository")
	}
	ok("merge", "c")
	if b, _ := os.ReadFile(filepath.Join(repo, "README.md")); !strings.Contains(string(b), "added by c") {
		t.Error("merge c did not bring its commit")
	}
	if _, err := os.Stat(filepath.Join(repo, "NEW.txt")); err == nil {
		t.Error("merge without --include-uncommitted brought uncommitted work")
	}
	// Rebase: a conflict is refused with nothing changed and no worktree left; d's two commits
	// are replayed onto the user's branch (after c's merge commit), which moves forward to them.
	git := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", repo, "-c", "safe.directory=*"}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	afterC := repoState(t, repo)
	headC := git("rev-parse", "HEAD")
	r = pd("merge", "--rebase", "b")
	if r.code == 0 || !strings.Contains(r.stderr, "conflict") || !strings.Contains(r.stderr, "term.go") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("merge --rebase b (conflicting): want one line naming term.go: %s", r)
	}
	if repoState(t, repo) != afterC || git("rev-parse", "HEAD") != headC {
		t.Fatal("a refused rebase changed the user's repository")
	}
	if wts := git("worktree", "list", "--porcelain"); strings.Count(wts, "worktree ") != 1 {
		t.Errorf("a refused rebase left a worktree: %s", wts)
	}
	if r := pd("merge", "--rebase", "--no-ff", "d"); r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("merge --rebase --no-ff: want one line refusing: %s", r)
	}
	ok("merge", "--rebase", "d")
	if got := git("log", "--format=%s", "-2"); got != "d: second note\nd: first note" {
		t.Errorf("after merge --rebase d, the last two commits are %q", got)
	}
	if git("rev-parse", "HEAD~2") != headC || len(strings.Fields(git("rev-list", "--parents", "-1", "HEAD~1"))) != 2 {
		t.Error("merge --rebase d did not replay its commits onto the user's branch")
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "term_unix.go")); !strings.Contains(string(b), "more by d") {
		t.Error("merge --rebase d did not bring its change into the working tree")
	}
	if st := git("status", "--porcelain", "--untracked-files=no"); st != "" {
		t.Errorf("after merge --rebase d the user's tree is not clean: %s", st)
	}
	if _, err := os.Lstat(marker); err == nil {
		t.Fatal("a hook or fsmonitor command planted in a sandbox's repository ran on the host")
	}
	// The same through the MCP server.
	c := e.mcpConnect(t, repo, "mcp")
	var d mcpserver.DiffResult
	c.ok("sandbox_diff", map[string]any{"sandbox": "c", "stat": true}, &d)
	if d.Work == nil || d.Work.Name != "paddock/c" || !strings.Contains(d.Patch, "README.md") {
		t.Errorf("sandbox_diff: %+v", d)
	}
	var mr mcpserver.MergeResult
	c.ok("sandbox_merge", map[string]any{"sandbox": "c"}, &mr)
	if !strings.Contains(mr.Message, "nothing to merge") {
		t.Errorf("sandbox_merge of merged work: %+v", mr)
	}

	// rm: unmerged work is not dropped without -f; merged work is.
	if r := pd("rm", "b"); r.code == 0 || !strings.Contains(r.stderr, "not merged") {
		t.Errorf("rm of a sandbox with unmerged work: %s", r)
	}
	ok("rm", "-f", "b")
	ok("stop", "a")
	ok("rm", "a") // merged: no question, even though looking starts it for a moment
	ok("rm", "-f", "c")
	ok("stop", "d")
	ok("rm", "d") // rebased in: its work is in the user's branch, so no question
	// Review refs: merged work's are gone with the sandbox; unmerged work stays reachable.
	if out, _ := exec.Command("git", "-C", repo, "-c", "safe.directory=*", "for-each-ref", "--format=%(refname)", "refs/remotes/paddock/").Output(); strings.TrimSpace(string(out)) != "refs/remotes/paddock/b" {
		t.Errorf("review refs after rm: want only b's (unmerged), got %q", out)
	}
	if _, err := os.Lstat(marker); err == nil {
		t.Fatal("a hook planted in a sandbox's repository ran on the host")
	}
	if out, err := exec.Command("git", "-C", repo, "-c", "safe.directory=*", "fsck", "--no-progress").CombinedOutput(); err != nil {
		t.Errorf("git fsck of the user's repository: %v: %s", err, out)
	}
}
