package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/fsutil"
	"github.com/paddockhq/paddock/internal/image"
)

// ResetPlan is what a reset removes: every sandbox (running ones are stopped first), the agents'
// volumes, the secrets, the agent and template caches, the egress CA and global rules. It never
// touches a workspace.
type ResetPlan struct {
	Home                        string
	Sandboxes, Volumes, Secrets int
}

// Summary says it in words.
func (p ResetPlan) Summary() string {
	return fmt.Sprintf("%s, %s (agent logins and settings), %s, the agent cache and the template cache",
		count(p.Sandboxes, "sandbox", "sandboxes"), count(p.Volumes, "volume", "volumes"), count(p.Secrets, "secret", "secrets"))
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// PlanReset counts what Reset would remove.
func (m *Manager) PlanReset() (ResetPlan, error) {
	recs, bad, err := m.Store.List()
	if err != nil {
		return ResetPlan{}, err
	}
	vols, _ := m.Agents.Volumes.List()
	secrets, _ := m.Credentials().List()
	return ResetPlan{Home: m.Store.Root, Sandboxes: len(recs) + len(bad), Volumes: len(vols), Secrets: len(secrets)}, nil
}

// Reset removes all of paddock's state (see ResetPlan), under the store lock.
func (m *Manager) Reset(ctx context.Context) error {
	unlock, err := m.Store.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	recs, bad, err := m.Store.List()
	if err != nil {
		return err
	}
	home := m.Store.Root
	var failed []string
	for _, r := range recs {
		if err := m.Stop(ctx, r, 5*time.Second); err != nil {
			failed = append(failed, fmt.Sprintf("stopping %s: %v", r.Name, err))
			continue
		}
		if err := m.For(r).Remove(ctx, m.Sandbox(r)); err != nil {
			failed = append(failed, fmt.Sprintf("removing %s: %v", r.Name, err))
		}
	}
	for _, c := range bad {
		// A damaged record's sandbox may still run: stopped through its backend's own files.
		if err := m.removeDamaged(ctx, c.Dir); err != nil {
			failed = append(failed, err.Error())
		}
	}
	// The template cache: as an ordinary user its layers hold files of subordinate ids, which
	// only the store's own user namespace can delete.
	images := filepath.Join(home, "images")
	if _, err := os.Lstat(images); err == nil && os.Geteuid() != 0 {
		if err := image.RemoveOwned(images); err != nil {
			failed = append(failed, fmt.Sprintf("removing the template cache: %v", err))
		}
	}
	for _, d := range []string{"volumes", "secrets", "agents", "egress", "install", "images", "doctor"} {
		if err := fsutil.RemoveTree(filepath.Join(home, d)); err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("reset incomplete: %s", strings.Join(failed, "; "))
	}
	// The sandboxes folder holds only lock files now; the state folder goes if nothing else is in it.
	if err := fsutil.RemoveTree(filepath.Join(home, "sandboxes")); err != nil {
		return err
	}
	os.Remove(home)
	return nil
}
