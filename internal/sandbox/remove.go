package sandbox

import (
	"context"
	"fmt"
)

// RemoveRef removes the sandbox named ref (name, ID or ID prefix) and returns its name. With
// force, a running sandbox is stopped first, and a sandbox whose record is unreadable is found
// and removed through its backend's own files (see RemoveDamaged).
func (m *Manager) RemoveRef(ctx context.Context, ref string, force bool) (string, error) {
	rec, err := m.Store.Resolve(ref)
	if err != nil {
		if dir, ok := m.Store.ResolveCorrupt(ref); ok && force {
			if err := m.RemoveDamaged(ctx, dir); err != nil {
				return "", fmt.Errorf("removing the damaged sandbox %s: %w", ref, err)
			}
			return ref, nil
		}
		return "", err
	}
	if err := m.Remove(ctx, rec, force); err != nil {
		return "", err
	}
	return rec.Name, nil
}
