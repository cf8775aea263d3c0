package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/hostpath"
)

// gitFileMax bounds what paddock reads of a worktree's small git files (.git, gitdir, commondir).
const gitFileMax = 4096

// worktreeMounts keeps a workspace that is a git worktree working: its .git file points into
// the main repository's git folder, which is mounted at its own path too. The workspace is
// the sandbox's to write, so the .git file is hostile input: the folder it names is mounted only
// when it is a real worktree of a repository owned by the workspace's owner (the repository's
// worktrees/NAME/gitdir points back at this workspace), outside paddock's state folder and the
// system folders. Nothing is followed, blocked on or read without bound. note says, when not
// empty, why a .git file was not followed.
func worktreeMounts(ws, state string) (ms []backend.Mount, why string) {
	common, name, err := worktreeRepo(ws, state)
	switch {
	case errors.Is(err, errNotWorktree):
		return nil, ""
	case err != nil:
		return nil, err.Error()
	case common == "":
		return nil, ""
	}
	id, err := hostpath.Identify(common)
	if err != nil {
		return nil, err.Error()
	}
	return []backend.Mount{{Kind: backend.KindGitdir, Source: common, Target: common, ID: id,
		Why: "the workspace is the git worktree " + name + " of this repository (its worktrees/" + name + "/gitdir names the workspace)"}}, ""
}

var errNotWorktree = errors.New("not a worktree")

// worktreeRepo returns the common git folder of the worktree ws ("" when it needs no mount) and
// the worktree's name there.
func worktreeRepo(ws, state string) (common, name string, err error) {
	dotgit := filepath.Join(ws, ".git")
	st, err := os.Lstat(dotgit)
	if err != nil || st.IsDir() {
		return "", "", errNotWorktree // no repository, or an ordinary one inside the workspace
	}
	b, err := hostpath.ReadSmall(dotgit, gitFileMax)
	if err != nil {
		return "", "", err
	}
	gitdir, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
	if !ok {
		return "", "", errNotWorktree
	}
	if !filepath.IsAbs(gitdir) {
		gitdir = filepath.Join(ws, gitdir)
	}
	gitdir, err = filepath.EvalSymlinks(filepath.Clean(gitdir))
	if err != nil {
		return "", "", fmt.Errorf("%s does not exist", gitdir)
	}
	c, err := hostpath.ReadSmall(filepath.Join(gitdir, "commondir"), gitFileMax)
	if errors.Is(err, fs.ErrNotExist) {
		// A submodule's git folder (under the superproject's .git/modules): its core.worktree
		// must name this workspace.
		if err := checkSubmodule(gitdir, ws); err != nil {
			return "", "", err
		}
		common = gitdir
	} else {
		if err != nil {
			return "", "", fmt.Errorf("%s is not a worktree's git folder (%w)", gitdir, err)
		}
		// The repository names this workspace as its worktree...
		back, err := hostpath.ReadSmall(filepath.Join(gitdir, "gitdir"), gitFileMax)
		if err != nil {
			return "", "", fmt.Errorf("%s is not a worktree's git folder (%w)", gitdir, err)
		}
		if b := filepath.Clean(strings.TrimSpace(string(back))); b != dotgit {
			if r, err := filepath.EvalSymlinks(b); err != nil || r != dotgit {
				return "", "", fmt.Errorf("%s belongs to the worktree %s, not to this folder", gitdir, b)
			}
		}
		common = strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitdir, common)
		}
		if common, err = filepath.EvalSymlinks(filepath.Clean(common)); err != nil {
			return "", "", fmt.Errorf("the repository of %s does not exist", gitdir)
		}
		// ...and the worktree's folder is the repository's own worktrees/NAME entry.
		if entry, err := filepath.EvalSymlinks(filepath.Join(common, "worktrees", filepath.Base(gitdir))); err != nil || entry != gitdir {
			return "", "", fmt.Errorf("%s is not one of the worktrees of %s", gitdir, common)
		}
	}
	home, _ := os.UserHomeDir()
	switch {
	case within(ws, common):
		return "", "", nil // inside the workspace: already visible
	case within(state, common) || within(common, state):
		return "", "", fmt.Errorf("%s is inside paddock's state folder", common)
	case reservedTarget(common) || common == home:
		return "", "", fmt.Errorf("%s is a system or home folder", common)
	}
	if hostpath.Owner(common) != hostpath.Owner(ws) {
		return "", "", fmt.Errorf("%s is not owned by the workspace's owner", common)
	}
	return common, filepath.Base(gitdir), nil
}

// gitConfigMax bounds what paddock reads of a submodule's git config.
const gitConfigMax = 64 << 10

// checkSubmodule checks that the git folder gitdir is a submodule's whose core.worktree is ws.
func checkSubmodule(gitdir, ws string) error {
	b, err := hostpath.ReadSmall(filepath.Join(gitdir, "config"), gitConfigMax)
	if err != nil {
		return fmt.Errorf("%s is not a worktree's or submodule's git folder (%w)", gitdir, err)
	}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = strings.ToLower(strings.Trim(line, "[] \t"))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section != "core" || !strings.EqualFold(strings.TrimSpace(k), "worktree") {
			continue
		}
		wt := strings.Trim(strings.TrimSpace(v), `"`)
		if !filepath.IsAbs(wt) {
			wt = filepath.Join(gitdir, wt)
		}
		if r, err := filepath.EvalSymlinks(filepath.Clean(wt)); err == nil && r == ws {
			return nil
		}
		return fmt.Errorf("%s belongs to the submodule at %s, not to this folder", gitdir, wt)
	}
	return fmt.Errorf("%s is not a worktree's or submodule's git folder (no worktree names this folder)", gitdir)
}
