package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/fsutil"
	"github.com/paddockhq/paddock/internal/store"
)

// A sandbox whose record (record.json) cannot be read is still a sandbox: its processes may run
// and its folder is some workspace's. The backend that made it recognises its own files
// (backend.Salvager), so that rm -f stops it before deleting its state, and a run in its
// workspace does not silently make a second one.

// ErrDamaged: a sandbox's record cannot be read.
var ErrDamaged = errors.New("damaged sandbox")

// salvage finds which sandbox a damaged state folder holds, and its backend.
func (m *Manager) salvage(ctx context.Context, dir string) (*backend.Sandbox, backend.Backend, error) {
	// Each backend recognises its own files, and says fs.ErrNotExist for others'.
	for _, name := range BackendNames {
		be := m.Backends[name]
		s, ok := be.(backend.Salvager)
		if !ok {
			continue
		}
		sb, err := s.Salvage(ctx, dir)
		if err == nil {
			return sb, be, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
	}
	return nil, nil, fs.ErrNotExist
}

// workspaceOf is the folder a salvaged sandbox works in.
func workspaceOf(sb *backend.Sandbox) string {
	for _, mt := range sb.Spec.Mounts {
		if mt.Kind == backend.KindWorkspace {
			return mt.Source
		}
	}
	return sb.Spec.Workdir
}

// checkDamaged refuses to make a new sandbox for ws while a sandbox whose record is damaged works
// in ws; one whose folder cannot be told is named in a warning.
func (m *Manager) checkDamaged(ctx context.Context, bad []store.Corrupt, ws string) error {
	for _, c := range bad {
		id := filepath.Base(c.Dir)
		sb, _, err := m.salvage(ctx, c.Dir)
		switch {
		case err == nil && workspaceOf(sb) == ws:
			return fmt.Errorf("%w: the sandbox of this folder, %s (%s), has an unreadable record: remove it with `paddock rm -f %s` (its processes are stopped; the workspace is not touched), then run again; nothing was created",
				ErrDamaged, sb.Name, id, id)
		case err != nil && m.Progress != nil:
			fmt.Fprintf(m.Progress, "paddock: warning: sandbox %s has a damaged record and its folder cannot be told (%v); if it was this folder's, remove it with `paddock rm -f %s`\n", id, c.Err, id)
		}
	}
	return nil
}

// RemoveDamaged removes a sandbox whose record is damaged (rm -f): its backend stops it and
// removes it when it can tell the sandbox from its own files; otherwise every paddock process
// serving the folder (supervisor, egress host side) is ended before the folder is deleted.
func (m *Manager) RemoveDamaged(ctx context.Context, dir string) error {
	unlock, err := m.Store.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.removeDamaged(ctx, dir)
}

// removeDamaged is RemoveDamaged with the store lock held.
func (m *Manager) removeDamaged(ctx context.Context, dir string) error {
	if sb, be, err := m.salvage(ctx, dir); err == nil {
		if err := be.Stop(ctx, sb, 2*time.Second); err != nil {
			return fmt.Errorf("stopping the sandbox in %s: %w", dir, err)
		}
		return be.Remove(ctx, sb)
	}
	if err := killServing(dir); err != nil {
		return err
	}
	return fsutil.RemoveTree(dir)
}
