package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/paddockhq/paddock/internal/volume"
)

// VolumeUse is an agent's config volume with the sandboxes that use it (every sandbox of its
// agent) and those of them running.
type VolumeUse struct {
	volume.Volume
	UsedBy  []string `json:"used_by"`
	Running []string `json:"running"`
}

// Volumes lists the agents' config volumes.
func (m *Manager) Volumes() ([]volume.Volume, error) { return m.Agents.Volumes.List() }

// Volume finds one by name.
func (m *Manager) Volume(name string) (volume.Volume, error) { return m.Agents.Volumes.Get(name) }

// VolumesUse says which sandboxes use each of vols.
func (m *Manager) VolumesUse(ctx context.Context, vols []volume.Volume) ([]VolumeUse, error) {
	recs, _, err := m.Store.List()
	if err != nil {
		return nil, err
	}
	out := []VolumeUse{}
	for _, v := range vols {
		vv := VolumeUse{Volume: v, UsedBy: []string{}, Running: []string{}}
		for _, r := range recs {
			if r.Agent != v.Agent {
				continue
			}
			vv.UsedBy = append(vv.UsedBy, r.Name)
			if st, err := m.For(r).State(ctx, m.Sandbox(r)); err == nil && st.Status == "running" {
				vv.Running = append(vv.Running, r.Name)
			}
		}
		out = append(out, vv)
	}
	return out, nil
}

// RemoveVolume removes an agent's config volume (its login and settings are lost). It is refused
// while a sandbox using it runs, unless force, which stops those first.
func (m *Manager) RemoveVolume(ctx context.Context, name string, force bool) error {
	v, err := m.Agents.Volumes.Get(name)
	if err != nil {
		return err
	}
	unlock, err := m.Store.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	use, err := m.VolumesUse(ctx, []volume.Volume{v})
	if err != nil {
		return err
	}
	if running := use[0].Running; len(running) > 0 {
		if !force {
			return fmt.Errorf("%w: volume %s is used by running sandbox %s; stop it first, or use volume rm -f", ErrRunning, name, running[0])
		}
		for _, n := range running {
			rec, err := m.Store.Resolve(n)
			if err != nil {
				return err
			}
			if err := m.Stop(ctx, rec, 5*time.Second); err != nil {
				return err
			}
		}
	}
	return m.Agents.Volumes.Remove(name)
}
