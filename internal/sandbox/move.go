package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/hostpath"
	"github.com/paddockhq/paddock/internal/store"
)

// A project folder that is renamed or moved keeps its identity (device, inode, birth time, as
// recorded when its sandbox was made): Move points the sandbox at the folder's new path, with
// everything it has (home, installs, caches), and a run in the moved folder says so instead of
// making an empty second sandbox.

// rebase is p with the folder old replaced by new when p is old or below it.
func rebase(p, old, new string) string {
	if p == old {
		return new
	}
	if rest, ok := strings.CutPrefix(p, old+"/"); ok {
		return filepath.Join(new, rest)
	}
	return p
}

// Move points a stopped sandbox at its workspace's new path dir: the workspace and everything
// mounted from below it or shown below it move along. dir must be a folder no other sandbox of
// the agent works in.
func (m *Manager) Move(ctx context.Context, rec *store.Record, dir string, force bool) (*store.Record, error) {
	ws, err := m.ResolveWorkspace(dir, force)
	if err != nil {
		return nil, err
	}
	id, err := hostpath.Identify(ws)
	if err != nil {
		return nil, badInput("workspace %s: %v", ws, err)
	}
	unlock, err := m.Store.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	unlockSb, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return nil, err
	}
	defer unlockSb()
	cur, err := m.Store.Resolve(rec.ID)
	if err != nil {
		return nil, err
	}
	if st, err := m.For(cur).State(ctx, m.Sandbox(cur)); err == nil && st.Status == "running" {
		return nil, fmt.Errorf("%w: %s; stop it first (`paddock stop %s`)", ErrRunning, cur.Name, cur.Name)
	}
	old := cur.Workspace
	if ws == old {
		return cur, nil
	}
	recs, _, err := m.Store.List()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.ID != cur.ID && r.Workspace == ws && r.Agent == cur.Agent {
			return nil, fmt.Errorf("%w: %s already has a %s sandbox, %s; remove it first", ErrInUse, ws, cur.Agent, r.Name)
		}
	}
	if _, err := os.Lstat(old); err == nil {
		var oldID hostpath.ID
		for _, mt := range cur.Spec.Mounts {
			if mt.Kind == backend.KindWorkspace && mt.Source == old {
				oldID = mt.ID
			}
		}
		// The old folder is still there: a copy, not a move. Say so, but do as asked.
		if m.Progress != nil && (oldID.Zero() || oldID != id) {
			fmt.Fprintf(m.Progress, "paddock: note: %s still exists; the sandbox now works in %s (its files are not copied)\n", old, ws)
		}
	}
	var ms []backend.Mount
	for _, mt := range cur.Spec.Mounts {
		src := rebase(mt.Source, old, ws)
		if src != mt.Source || mt.Kind == backend.KindWorkspace && mt.Source == old {
			// A folder that moved along keeps its identity; the workspace gets the one it has now.
			mt.Source = src
			if mt.Kind == backend.KindWorkspace && src == ws {
				mt.ID = id
			}
		}
		mt.Target = rebase(mt.Target, old, ws)
		ms = append(ms, mt)
	}
	cur.Spec.Mounts = ms
	cur.Spec.Workdir = rebase(cur.Spec.Workdir, old, ws)
	cur.Workspace = ws
	if err := m.Store.Save(cur); err != nil {
		return nil, err
	}
	return cur, nil
}

// checkMoved refuses to make a new sandbox for ws when ws is the folder another sandbox of the
// agent was made for, moved or renamed since (its recorded path is gone, its identity is ws's).
func checkMoved(recs []*store.Record, agentName, ws string, id hostpath.ID) error {
	if id.Zero() {
		return nil
	}
	for _, r := range recs {
		if r.Agent != agentName || r.Workspace == ws {
			continue
		}
		if _, err := os.Lstat(r.Workspace); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		for _, mt := range r.Spec.Mounts {
			if mt.Kind == backend.KindWorkspace && mt.Source == r.Workspace && mt.ID == id {
				return fmt.Errorf("%w: this folder is %s's workspace, moved from %s: `paddock move %s %s` points the sandbox here with its state (or `paddock rm %s` to start afresh); nothing was created",
					ErrMoved, r.Name, r.Workspace, r.Name, ws, r.Name)
			}
		}
	}
	return nil
}

// ErrMoved: a workspace was moved or renamed since its sandbox was made.
var ErrMoved = errors.New("moved workspace")
