package backend

import "strings"

// Managed reports whether a mount is managed by paddock (the agent, its volumes and host
// config): refreshed when the sandbox starts, never a user setting.
func (m Mount) Managed() bool {
	return m.Kind == KindAgent || m.Kind == KindVolume || m.Kind == KindAgentConfig
}

// AgentBinDir is the folder of an agent mount that holds its commands.
const AgentBinDir = "node_modules/.bin"

// WithAgentEnv adds the agent's environment to a backend's base environment: the agent's
// commands first on PATH, then the spec's AgentEnv. Backends call it before appending Spec.Env.
func WithAgentEnv(s Spec, env []string) []string {
	var bins []string
	for _, m := range s.Mounts {
		if m.Kind == KindAgent {
			bins = append(bins, strings.TrimSuffix(m.Target, "/")+"/"+AgentBinDir)
		}
	}
	if len(bins) > 0 {
		for i, kv := range env {
			if p, ok := strings.CutPrefix(kv, "PATH="); ok {
				env[i] = "PATH=" + strings.Join(bins, ":") + ":" + p
			}
		}
	}
	return append(env, s.AgentEnv...)
}
