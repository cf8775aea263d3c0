package sandbox

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/credentials"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/fsutil"
)

// LoginHint is one line telling how to give the agent of a sandbox access to its model, when it
// has none: none of its keys is stored and no sign-in of its own is in its volume. "" when it has
// one (or needs none).
func (m *Manager) LoginHint(a agent.Agent) string {
	l := a.Info().Login
	if l == nil || m.Agents == nil || m.Agents.Volumes == nil {
		return ""
	}
	stored, _ := credentials.Open(filepath.Join(m.Store.Root, "secrets")).List()
	for _, s := range l.Secrets {
		if slices.Contains(stored, s) {
			return ""
		}
	}
	vols, err := m.Agents.Volumes.Mounts(a)
	if err != nil {
		return ""
	}
	for _, f := range l.Files {
		for _, v := range vols {
			rel, ok := strings.CutPrefix(f, v.Target+"/")
			if !ok {
				continue
			}
			// The volume is the sandboxes': read beneath it, bounded; paddock's own placeholder
			// (Codex's auth.json with an API key to come) is no sign-in.
			b, err := fsutil.ReadFileBeneath(v.Source, rel, 1<<20)
			if err == nil && !strings.Contains(string(b), egress.PlaceholderPrefix) {
				return ""
			}
		}
	}
	keys := make([]string, len(l.Secrets))
	for i, s := range l.Secrets {
		keys[i] = "`paddock secret set " + s + "`"
	}
	return a.Name() + " has no key and no sign-in yet: " + strings.Join(keys, " or ") +
		" stores a key (it never enters the sandbox), or " + l.How
}
