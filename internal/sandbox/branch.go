package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/hostpath"
	"github.com/paddockhq/paddock/internal/store"
)

// Branch mode (--branch): the sandbox works in a checkout of its own, in its private state, on
// branch paddock/NAME made from the user's HEAD; the agent sees it at the workspace's path. The
// user's repository is never written by the sandbox: its objects are shown read-only (the
// checkout borrows them as alternates at OriginObjects), and the sandbox's work comes back only
// as data — a git bundle its own git writes — which paddock fetches into the user's repository
// with every object checked (diff, merge). paddock never runs git in a repository a sandbox can
// write.

// OriginObjects is where a branch sandbox sees its origin repository's objects, read-only.
const OriginObjects = "/run/paddock-origin/objects"

// defaultBranch asks for the branch to be named after the sandbox (--branch without a value).
const defaultBranch = "\x00"

// DefaultBranch is Options.Branch for --branch without a name.
const DefaultBranch = defaultBranch

// BranchPrefix prefixes a branch sandbox's branch name.
const BranchPrefix = "paddock/"

// hostGit runs the host's git in the user's repository dir (never one a sandbox wrote), with
// hooks, fsmonitor, pagers and prompts off.
func hostGit(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	full := append([]string{"-C", dir, "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
		"-c", "core.pager=cat", "-c", "color.ui=false"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.Bytes(), &gitError{args: args, msg: msg, err: err}
	}
	return out.Bytes(), nil
}

type gitError struct {
	args []string
	msg  string
	err  error
}

func (e *gitError) Error() string { return "git " + e.args[0] + ": " + OneLine(e.msg) }
func (e *gitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// branchSource reads the user's repository at ws: its common git folder and HEAD commit.
func branchSource(ctx context.Context, ws string) (gitDir, head string, err error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", "", badInput("--branch needs git on the host")
	}
	out, err := hostGit(ctx, ws, nil, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", "", badInput("--branch: %s is not a git repository with a commit (%v)", ws, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 3 {
		return "", "", badInput("--branch: cannot read the repository at %s", ws)
	}
	if lines[0] != ws {
		return "", "", badInput("--branch: give the repository's top folder, %s (not %s)", lines[0], ws)
	}
	return lines[1], lines[2], nil
}

// makeCheckout makes the sandbox's checkout at dir (a new folder in its private state) on
// branch paddock/name at base, borrowing the objects of gitDir; then points the borrowing at
// where the sandbox sees them.
func makeCheckout(ctx context.Context, dir, gitDir, name, base string, uid, gid int) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	steps := [][]string{
		{"init", "-q", "--template=", "."},
		{"update-ref", "refs/heads/" + BranchPrefix + name, base},
		{"update-ref", "refs/paddock/base", base},
		{"symbolic-ref", "HEAD", "refs/heads/" + BranchPrefix + name},
	}
	alt := filepath.Join(dir, ".git", "objects", "info", "alternates")
	for i, s := range steps {
		if _, err := hostGit(ctx, dir, nil, s...); err != nil {
			return err
		}
		if i == 0 {
			if err := os.WriteFile(alt, []byte(filepath.Join(gitDir, "objects")+"\n"), 0o644); err != nil {
				return err
			}
		}
	}
	if _, err := hostGit(ctx, dir, nil, "reset", "-q", "--hard", base); err != nil {
		return err
	}
	if err := os.WriteFile(alt, []byte(OriginObjects+"\n"), 0o644); err != nil {
		return err
	}
	if os.Geteuid() == 0 && uid != 0 {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
	}
	return nil
}

// branchMounts are a branch sandbox's workspace (its checkout, at the workspace's path) and its
// origin's objects, read-only.
func branchMounts(ws string, b *store.Branch) ([]backend.Mount, error) {
	cid, err := hostpath.Identify(b.Checkout)
	if err != nil {
		return nil, err
	}
	objects := filepath.Join(b.GitDir, "objects")
	oid, err := hostpath.Identify(objects)
	if err != nil {
		return nil, err
	}
	return []backend.Mount{
		{Kind: backend.KindWorkspace, Source: b.Checkout, Target: ws, ID: cid,
			Why: "branch " + BranchPrefix + b.Name + ": the sandbox's own checkout of " + ws},
		{Kind: backend.KindOrigin, Source: objects, Target: OriginObjects, ReadOnly: true, ID: oid,
			Why: "the objects of " + ws + "'s repository, which the branch's checkout borrows (read-only)"},
	}, nil
}

// BranchWork is what a branch sandbox has done, brought into the user's repository as objects
// (no ref of the user's is written).
type BranchWork struct {
	Name      string `json:"branch"`
	Base      string `json:"base"`
	Head      string `json:"head"`          // the sandbox's branch
	Worktree  string `json:"worktree"`      // a commit of HEAD with the uncommitted changes on top
	Ahead     int    `json:"commits"`       // commits on its branch since Base
	Changed   int    `json:"files"`         // files changed since Base, uncommitted changes included
	Unmerged  bool   `json:"unmerged"`      // the user's HEAD does not contain the worktree commit
	Uncommits bool   `json:"uncommitted"`   // changes not committed in the sandbox
	Ref       string `json:"ref,omitempty"` // its branch in the user's repository (paddock/NAME, a remote-tracking ref)
}

// exportScript runs in the sandbox, as its user, in the checkout: it commits the working tree
// (with a private index: the agent's index is untouched), prints the branch's and that commit's
// ids, then a bundle of both since the base.
const exportScript = `set -e
cd "$1"
b=$(git rev-parse -q --verify "refs/heads/$2^{commit}")
idx=$(mktemp); trap 'rm -f "$idx"' EXIT
GIT_INDEX_FILE=$idx git read-tree HEAD
GIT_INDEX_FILE=$idx git add -A
t=$(GIT_INDEX_FILE=$idx git write-tree)
w=$(git -c user.name=paddock -c user.email=paddock@localhost commit-tree "$t" -p HEAD -m "paddock: uncommitted changes")
git update-ref refs/paddock/worktree "$w"
echo "$b"; echo "$w"
git bundle create -q - refs/paddock/worktree "refs/heads/$2" ^"$3" 2>/dev/null || git bundle create -q - refs/paddock/worktree ^"$3"`

// maxBundle bounds what paddock reads of a sandbox's bundle.
const maxBundle = 4 << 30

// ExportBranch brings rec's work into the user's repository as objects and says what it is.
func (m *Manager) ExportBranch(ctx context.Context, rec *store.Record) (*BranchWork, error) {
	b := rec.Branch
	if b == nil {
		return nil, badInput("sandbox %s is not in branch mode (paddock run --branch)", rec.Name)
	}
	tmp, err := os.CreateTemp("", "paddock-bundle-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	type head struct {
		branch, work string
		err          error
	}
	got := make(chan head, 1)
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		var h head
		l1, err1 := br.ReadString('\n')
		l2, err2 := br.ReadString('\n')
		h.branch, h.work = strings.TrimSpace(l1), strings.TrimSpace(l2)
		if err1 != nil || err2 != nil {
			h.err = errors.New("the sandbox's git gave no answer")
		}
		n, err := io.Copy(tmp, io.LimitReader(br, maxBundle+1))
		if err == nil && n > maxBundle {
			err = fmt.Errorf("the sandbox's bundle is larger than %d bytes", int64(maxBundle))
		}
		if h.err == nil {
			h.err = err
		}
		io.Copy(io.Discard, r)
		r.Close()
		got <- h
	}()
	req := ExecRequest{Argv: []string{"/bin/sh", "-c", exportScript, "sh", rec.Workspace, BranchPrefix + b.Name, b.Base}, Dir: "/"}
	var errb bytes.Buffer
	er, ew, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	go func() { io.Copy(&errb, io.LimitReader(er, 16<<10)); io.Copy(io.Discard, er); er.Close() }()
	code, err := m.Exec(ctx, rec, req, Streams{Stdout: w, Stderr: ew})
	w.Close()
	ew.Close()
	h := <-got
	if err != nil {
		return nil, err
	}
	if code != 0 || h.err != nil {
		return nil, fmt.Errorf("reading the work of %s: %s%v", rec.Name, OneLine(errb.String()), orNil(h.err))
	}
	if !isSHA(h.work) || (h.branch != "" && !isSHA(h.branch)) {
		return nil, fmt.Errorf("reading the work of %s: the sandbox's git answered %q", rec.Name, h.work)
	}
	ws := rec.Workspace
	// Objects only: no ref of the user's changes; every object is checked.
	if _, err := hostGit(ctx, ws, nil, "-c", "transfer.fsckObjects=true", "-c", "fetch.fsckObjects=true",
		"fetch", "-q", "--no-tags", "--no-write-fetch-head", "--no-auto-gc", tmp.Name(), "refs/paddock/worktree"); err != nil {
		return nil, fmt.Errorf("bringing in the work of %s: %w", rec.Name, err)
	}
	work := &BranchWork{Name: BranchPrefix + b.Name, Base: b.Base, Head: h.branch, Worktree: h.work}
	if work.Head == "" {
		work.Head = b.Base
	}
	// The branch's commit must be in what came (the worktree commit's history).
	if _, err := hostGit(ctx, ws, nil, "merge-base", "--is-ancestor", work.Head, work.Worktree); err != nil {
		work.Head = b.Base
	}
	if out, err := hostGit(ctx, ws, nil, "rev-list", "--count", b.Base+".."+work.Head); err == nil {
		fmt.Sscan(string(out), &work.Ahead)
	}
	if out, err := hostGit(ctx, ws, nil, "diff", "--no-ext-diff", "--no-textconv", "--name-only", b.Base, work.Worktree); err == nil {
		work.Changed = len(strings.Fields(string(out)))
	}
	if _, err := hostGit(ctx, ws, nil, "diff", "--quiet", "--no-ext-diff", work.Head, work.Worktree); err != nil {
		work.Uncommits = true
	}
	tip := work.Head
	if work.Uncommits {
		tip = work.Worktree
	}
	if tip != b.Base && !merged(ctx, ws, tip, b.Base) {
		work.Unmerged = true
	}
	// For review with the user's own tools: git log paddock/NAME, git diff ...paddock/NAME.
	if _, err := hostGit(ctx, ws, nil, "update-ref", "-m", "paddock: the work of sandbox "+rec.Name, ReviewRef(b.Name), work.Head); err == nil {
		work.Ref = strings.TrimPrefix(ReviewRef(b.Name), "refs/remotes/")
	}
	return work, nil
}

// ReviewRef is where the user's repository has a branch sandbox's branch (as of the last diff or
// merge): a remote-tracking ref, paddock/NAME to git. paddock writes no other ref of the user's.
func ReviewRef(branch string) string { return "refs/remotes/" + BranchPrefix + branch }

// dropReviewRef removes the sandbox's review ref from the user's repository when its work is in
// the user's branch; unmerged work stays reachable there.
func dropReviewRef(ctx context.Context, rec *store.Record) {
	if rec.Branch == nil {
		return
	}
	ref := ReviewRef(rec.Branch.Name)
	if merged(ctx, rec.Workspace, ref, rec.Branch.Base) {
		hostGit(ctx, rec.Workspace, nil, "update-ref", "-d", ref)
	}
}

// merged reports whether the user's HEAD has the work of base..tip: tip is in its history, or
// each of those commits has its equivalent there (as after merge --rebase or a cherry-pick).
func merged(ctx context.Context, ws, tip, base string) bool {
	if _, err := hostGit(ctx, ws, nil, "merge-base", "--is-ancestor", tip, "HEAD"); err == nil {
		return true
	}
	out, err := hostGit(ctx, ws, nil, "cherry", "HEAD", tip, base)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.HasPrefix(l, "- ") {
			return false
		}
	}
	return true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orNil(err error) any {
	if err == nil {
		return ""
	}
	return err
}

func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// DiffOptions shape paddock diff.
type DiffOptions struct {
	Stat bool
	// Committed leaves out the sandbox's uncommitted changes.
	Committed bool
}

// Diff writes the sandbox's work against the commit it started from, as git diff does.
func (m *Manager) Diff(ctx context.Context, rec *store.Record, w io.Writer, o DiffOptions) (*BranchWork, error) {
	work, err := m.ExportBranch(ctx, rec)
	if err != nil {
		return nil, err
	}
	to := work.Worktree
	if o.Committed {
		to = work.Head
	}
	args := []string{"diff", "--no-ext-diff", "--no-textconv"}
	if o.Stat {
		args = append(args, "--stat")
	}
	out, err := hostGit(ctx, rec.Workspace, nil, append(args, work.Base, to)...)
	if err != nil {
		return nil, err
	}
	_, err = w.Write(out)
	return work, err
}

// MergeOptions shape paddock merge.
type MergeOptions struct {
	FFOnly, NoFF bool
	// Rebase replays the sandbox's commits onto the user's branch, then fast-forwards it.
	Rebase bool
	// Uncommitted brings the sandbox's uncommitted changes too (as a commit of their own).
	Uncommitted bool
}

// ErrConflict: a merge would conflict; nothing was changed.
var ErrConflict = errors.New("the merge would conflict")

// Merge brings rec's commits (and, asked, its uncommitted changes) onto the user's current
// branch, as git merge does. A merge that would conflict changes nothing and says where.
func (m *Manager) Merge(ctx context.Context, rec *store.Record, o MergeOptions) (*BranchWork, string, error) {
	if n := btoi(o.FFOnly) + btoi(o.NoFF) + btoi(o.Rebase); n > 1 {
		return nil, "", badInput("merge: choose one of --ff-only, --no-ff and --rebase")
	}
	work, err := m.ExportBranch(ctx, rec)
	if err != nil {
		return nil, "", err
	}
	tip := work.Head
	if o.Uncommitted {
		tip = work.Worktree
	}
	ws := rec.Workspace
	if _, err := hostGit(ctx, ws, nil, "merge-base", "--is-ancestor", tip, "HEAD"); err == nil {
		return work, "nothing to merge: your branch has " + rec.Name + "'s work already", nil
	}
	if o.Rebase {
		return m.rebase(ctx, rec, work, tip, o)
	}
	// First in the object store only: a conflict leaves the user's tree and index as they were.
	out, err := hostGit(ctx, ws, nil, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", tip)
	if err != nil && exitCode(err) != 129 { // 129: a git before 2.38, without merge-tree --write-tree
		if exitCode(err) == 1 {
			lines := strings.Fields(string(out))
			if len(lines) > 1 {
				lines = lines[1:]
			}
			return work, "", fmt.Errorf("%w: %w in %s; nothing was changed (resolve it in the sandbox, or merge by hand: git merge %s)",
				ErrBadInput, ErrConflict, strings.Join(lines, ", "), tip[:12])
		}
		return work, "", err
	}
	args := []string{"-c", "user.useConfigOnly=false", "merge", "-q", "--no-edit", "-m", "Merge " + work.Name + " (paddock sandbox " + rec.Name + ")"}
	switch {
	case o.FFOnly:
		args = append(args, "--ff-only")
	case o.NoFF:
		args = append(args, "--no-ff")
	}
	if _, err := hostGit(ctx, ws, nil, append(args, tip)...); err != nil {
		// git refuses before touching anything when local changes are in the way.
		hostGit(ctx, ws, nil, "merge", "--abort")
		return work, "", fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return work, fmt.Sprintf("merged %s (%d commits%s) into your branch", work.Name, work.Ahead, map[bool]string{true: " and the uncommitted changes", false: ""}[o.Uncommitted]), nil
}

// rebase replays the commits of tip that the user's HEAD lacks onto HEAD, as git rebase does,
// in a worktree of paddock's own (the user's tree, index and refs untouched), then
// fast-forwards the user's branch to the result. A conflict removes that worktree, names the
// files and changes nothing.
func (m *Manager) rebase(ctx context.Context, rec *store.Record, work *BranchWork, tip string, o MergeOptions) (*BranchWork, string, error) {
	ws := rec.Workspace
	out, err := hostGit(ctx, ws, nil, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return work, "", err
	}
	onto := strings.TrimSpace(string(out))
	if err := os.MkdirAll(m.Store.Root, 0o700); err != nil {
		return work, "", err
	}
	tmp, err := os.MkdirTemp(m.Store.Root, ".rebase-")
	if err != nil {
		return work, "", err
	}
	wt := filepath.Join(tmp, "worktree")
	defer func() {
		bg := context.WithoutCancel(ctx)
		hostGit(bg, ws, nil, "worktree", "remove", "--force", wt)
		os.RemoveAll(tmp)
		hostGit(bg, ws, nil, "worktree", "prune")
	}()
	if _, err := hostGit(ctx, ws, nil, "worktree", "add", "-q", "--detach", wt, tip); err != nil {
		return work, "", fmt.Errorf("rebasing %s: %w", work.Name, err)
	}
	// The user's settings, less what would reach past this worktree (autostash, moving other
	// branches) or ask (an editor).
	args := []string{"-c", "user.useConfigOnly=false", "-c", "rebase.autoStash=false", "-c", "rebase.updateRefs=false",
		"-c", "rebase.autoSquash=false", "-c", "core.editor=true", "-c", "sequence.editor=true", "rebase", "-q", "--no-autosquash", onto}
	if _, err := hostGit(ctx, wt, nil, args...); err != nil {
		files, _ := hostGit(ctx, wt, nil, "diff", "--name-only", "--diff-filter=U")
		hostGit(context.WithoutCancel(ctx), wt, nil, "rebase", "--abort")
		if names := strings.Fields(string(files)); len(names) > 0 {
			return work, "", fmt.Errorf("%w: %w in %s when replaying %s onto your branch; nothing was changed (resolve it in the sandbox, or merge without --rebase)",
				ErrBadInput, ErrConflict, strings.Join(names, ", "), work.Name)
		}
		return work, "", fmt.Errorf("rebasing %s: %w", work.Name, err)
	}
	out, err = hostGit(ctx, wt, nil, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return work, "", err
	}
	rebased := strings.TrimSpace(string(out))
	n := 0
	if out, err := hostGit(ctx, ws, nil, "rev-list", "--count", onto+".."+rebased); err == nil {
		fmt.Sscan(string(out), &n)
	}
	// The user's branch moves forward only; git refuses before touching anything when local
	// changes are in the way.
	if _, err := hostGit(ctx, ws, nil, "merge", "-q", "--ff-only", rebased); err != nil {
		return work, "", fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return work, fmt.Sprintf("rebased %s onto your branch (%d commits%s)", work.Name, n, map[bool]string{true: ", the uncommitted changes as the last", false: ""}[o.Uncommitted]), nil
}

// createBranch makes a branch-mode sandbox: its checkout is made in a staging folder in
// PADDOCK_HOME (same filesystem), then moved into the new sandbox's state.
func (m *Manager) createBranch(ctx context.Context, recs []*store.Record, ws string, o Options, img *backend.Image) (*store.Record, error) {
	if err := os.MkdirAll(m.Store.Root, 0o700); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(m.Store.Root, ".branch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	uid, gid, err := ownerOf(ws)
	if err != nil {
		return nil, err
	}
	co := filepath.Join(stage, "checkout")
	if err := makeCheckout(ctx, co, o.branchGitDir, o.Branch, o.branchBase, uid, gid); err != nil {
		return nil, fmt.Errorf("making the checkout of branch %s%s: %w", BranchPrefix, o.Branch, err)
	}
	b := &store.Branch{Name: o.Branch, Base: o.branchBase, Checkout: co, GitDir: o.branchGitDir}
	ms, err := branchMounts(ws, b)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = uniqueName(recs, o.Branch)
	}
	rec, err := m.create(ctx, recs, ms[0], ms[1:], o, img)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(m.Store.Dir(rec.ID), "checkout")
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err == nil {
		err = os.Rename(co, final)
	}
	if err == nil {
		b.Checkout, rec.Spec.Mounts[0].Source, rec.Branch = final, final, b
		err = m.Store.Save(rec)
	}
	if err != nil {
		m.Remove(context.WithoutCancel(ctx), rec, true)
		return nil, fmt.Errorf("recording branch %s%s: %w", BranchPrefix, o.Branch, err)
	}
	return rec, nil
}

// UnmergedWork says what a branch sandbox would lose if removed: "" when its work is in the
// user's branch (or it has none). A stopped sandbox is started to look, and stopped again.
func (m *Manager) UnmergedWork(ctx context.Context, rec *store.Record) (string, error) {
	if rec.Branch == nil {
		return "", nil
	}
	st, err := m.For(rec).State(ctx, m.Sandbox(rec))
	if err != nil {
		return "", err
	}
	work, err := m.ExportBranch(ctx, rec)
	if st.Status != "running" {
		m.Stop(context.WithoutCancel(ctx), rec, 5*time.Second)
	}
	if err != nil || !work.Unmerged {
		return "", err
	}
	what := fmt.Sprintf("%d commits", work.Ahead)
	if work.Uncommits {
		what += " and uncommitted changes"
	}
	return fmt.Sprintf("sandbox %s has work not merged into your branch (%s on %s)", rec.Name, what, work.Name), nil
}

// BranchStatus is a branch sandbox's branch as ls shows it: commits ahead of where it started
// and files changed (its own git's count: what the sandbox says, for display only).
type BranchStatus struct {
	Name    string `json:"name"`
	Base    string `json:"base"`
	Ahead   int    `json:"commits_ahead"`
	Changed int    `json:"files_changed"`
}

const statusScript = `cd "$1" || exit 1; git rev-list --count "$2"..HEAD 2>/dev/null || echo 0; git diff --name-only "$2" 2>/dev/null | wc -l; git ls-files --others --exclude-standard 2>/dev/null | wc -l`

// branchStatus asks a running branch sandbox's git; nil for another sandbox.
func (m *Manager) branchStatus(ctx context.Context, rec *store.Record) *BranchStatus {
	if rec.Branch == nil {
		return nil
	}
	bs := &BranchStatus{Name: BranchPrefix + rec.Branch.Name, Base: rec.Branch.Base}
	r, w, err := os.Pipe()
	if err != nil {
		return bs
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, io.LimitReader(r, 256)); io.Copy(io.Discard, r); r.Close(); close(done) }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = m.For(rec).Exec(ctx, m.Sandbox(rec), ExecRequest{Argv: []string{"/bin/sh", "-c", statusScript, "sh", rec.Workspace, rec.Branch.Base},
		Dir: "/", User: imageUser(rec)}, Streams{Stdout: w})
	w.Close()
	<-done
	var ahead, changed, untracked int
	if err == nil {
		if n, _ := fmt.Sscan(out.String(), &ahead, &changed, &untracked); n == 3 {
			bs.Ahead, bs.Changed = ahead, changed+untracked
		}
	}
	return bs
}
