package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/fsutil"
	"github.com/paddockhq/paddock/internal/store"
	"github.com/paddockhq/paddock/internal/volume"
)

// AgentSupport gives the manager what it needs for the agents' paddock-managed mounts.
type AgentSupport struct {
	Installer *agent.Installer
	Volumes   *volume.Store
	// HasNode reports whether a template has Node.js on its PATH; nil checks the host template
	// only (other templates are assumed to have it).
	HasNode func(template string) bool
	// Placeholder is the value a sandbox holds for a stored secret (nil: Placeholder).
	Placeholder func(secret string) string
	// Warn receives what went wrong preparing an agent's configuration without stopping the start
	// (nil: discarded).
	Warn func(msg string)
}

// Placeholder is the value a sandbox gets instead of a stored secret's real key, the one the
// egress proxy replaces on the requests that leave the sandbox.
func Placeholder(secret string) string { return egress.Placeholder(secret) }

// nodeDirs are the folders of the sandbox's PATH where the host template can show node.
var nodeDirs = []string{"/usr/local/bin", "/usr/bin", "/bin"}

func (s *AgentSupport) hasNode(template string) bool {
	if s.HasNode != nil {
		return s.HasNode(template)
	}
	if template != "" && template != "host" {
		return true
	}
	for _, d := range nodeDirs {
		if st, err := os.Stat(filepath.Join(d, "node")); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// CheckAgentOptions validates --agent-version and --agent-config for an agent.
func CheckAgentOptions(o Options) error {
	a, err := agent.Lookup(o.Agent)
	if err != nil {
		return badInput("%v", err)
	}
	info := a.Info()
	if o.AgentVersionSet {
		if info.Package == "" {
			return badInput("--agent-version: the %s agent comes with the template and has no version to pick", a.Name())
		}
		if err := agent.CheckVersion(o.AgentVersion); err != nil {
			return badInput("%v", err)
		}
	}
	switch o.AgentConfig {
	case "", "none":
	case "host":
		if info.HostConfig == nil {
			return badInput("--agent-config host: the %s agent has no configuration of its own to share", a.Name())
		}
	default:
		return badInput("--agent-config %q: use host (share your own agent instructions and settings, read-only) or none", o.AgentConfig)
	}
	return nil
}

// pinned is how a requested version is recorded: "" follows the latest.
func pinned(v string) string {
	v = strings.TrimPrefix(v, "v")
	if v == "latest" {
		return ""
	}
	return v
}

func agentConfig(v string) string {
	if v == "none" {
		return ""
	}
	return v
}

// agentChange says how the agent settings asked for differ from the record's, "" if they do not.
func agentChange(rec *store.Record, o Options) string {
	var d []string
	if o.AgentVersionSet && pinned(o.AgentVersion) != rec.AgentVersion {
		d = append(d, fmt.Sprintf("agent version: %s -> %s", orLatest(rec.AgentVersion), orLatest(pinned(o.AgentVersion))))
	}
	if o.AgentConfigSet && agentConfig(o.AgentConfig) != rec.AgentConfig {
		d = append(d, fmt.Sprintf("agent config: %s -> %s", orNoneStr(rec.AgentConfig), orNoneStr(agentConfig(o.AgentConfig))))
	}
	return strings.Join(d, "; ")
}

func orLatest(v string) string {
	if v == "" {
		return "latest"
	}
	return v
}

func orNoneStr(v string) string {
	if v == "" {
		return "none"
	}
	return v
}

// runningAgentVersion is the version mounted in a sandbox ("" if none).
func runningAgentVersion(spec backend.Spec) string {
	for _, m := range spec.Mounts {
		if m.Kind == backend.KindAgent {
			return filepath.Base(m.Source)
		}
	}
	return ""
}

// Prepare brings a sandbox's paddock-managed mounts up to date (installing its agent when
// needed) without starting it: `create` uses it so that a bad version or a missing Node.js is
// reported at once.
func (m *Manager) Prepare(ctx context.Context, rec *store.Record) error {
	unlock, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := m.Store.Resolve(rec.ID)
	if err != nil {
		return err
	}
	*rec = *cur
	return m.refreshAgent(ctx, rec)
}

// refreshAgent sets a sandbox's paddock-managed mounts: the agent's package (its pinned version,
// or the latest, installed into the shared cache when missing), its config volumes and, with
// --agent-config host, the host's agent instructions. Called with the sandbox lock held, before
// the sandbox starts; it saves the record when something changed.
func (m *Manager) refreshAgent(ctx context.Context, rec *store.Record) error {
	if m.Agents == nil {
		return nil
	}
	a, err := agent.Lookup(rec.Agent)
	if err != nil {
		return badInput("%v", err)
	}
	info := a.Info()
	var managed []backend.Mount
	if info.Package != "" {
		inst, err := m.Agents.Installer.EnsureOn(ctx, a, rec.AgentVersion, m.For(rec).Name())
		switch {
		case errors.Is(err, agent.ErrUnknownVersion), errors.Is(err, agent.ErrBadVersion), errors.Is(err, agent.ErrRefused):
			return badInput("%v", err)
		case err != nil:
			return err
		}
		tmpl := rec.Spec.Template
		if _, own := m.For(rec).(backend.ImageResolver); own && rec.Spec.Image != nil {
			tmpl = rec.Spec.Image.Ref // a backend with images of its own: its host template is one too
		}
		if inst.NeedsNode(a) && !m.Agents.hasNode(tmpl) {
			if tmpl == "" || tmpl == "host" {
				return badInput("%s runs on Node.js, and the host template has no node in %s (one under your home folder, e.g. from nvm, is not visible in the sandbox): install Node.js on the host (e.g. apt-get install nodejs), or use a template that has it",
					a.Name(), strings.Join(nodeDirs, ", "))
			}
			return badInput("%s runs on Node.js, and template %s has none: use a template with Node.js, or the host template on a host with it", a.Name(), tmpl)
		}
		managed = append(managed, backend.Mount{Kind: backend.KindAgent, Source: inst.Dir, Target: agent.AgentDir, ReadOnly: true})
	}
	vols, err := m.Agents.Volumes.Mounts(a)
	if err != nil {
		return err
	}
	managed = append(managed, vols...)
	m.seedAgent(a, rec, vols)
	if rec.AgentConfig == "host" && info.HostConfig != nil {
		hc, err := hostConfigMounts(info.HostConfig, vols)
		if err != nil {
			return err
		}
		managed = append(managed, hc...)
	}
	env := slices.Clone(info.Env)
	// An image that runs as a non-root user (USER agent) keeps the agent's config in that
	// user's home: the volumes and the agent's variables follow it.
	if u, ok := backend.LookupImageUser(rec.Spec.Image); ok && strings.HasPrefix(u.Home, "/") && u.Home != "/" {
		managed, env = rehome(managed, env, u.Home)
	}
	mounts := append(slices.DeleteFunc(slices.Clone(rec.Spec.Mounts), backend.Mount.Managed), managed...)
	if err := checkMounts(mounts); err != nil {
		return err
	}
	if slices.Equal(mounts, rec.Spec.Mounts) && slices.Equal(env, rec.Spec.AgentEnv) {
		return nil
	}
	rec.Spec.Mounts, rec.Spec.AgentEnv = mounts, env
	rec.Spec.Hide = m.hidden(rec.Spec.Mounts)
	return m.Store.Save(rec)
}

// seedAgent prepares the agent's own configuration in its volume (onboarding done, the
// workspaces trusted, the key's mechanism set up, no telemetry), keeping what is there. A file
// it cannot merge (the user's, broken) is reported and left alone: the agent then asks itself.
func (m *Manager) seedAgent(a agent.Agent, rec *store.Record, vols []backend.Mount) {
	c := agent.SeedContext{Dirs: map[string]string{}, Placeholder: m.Agents.Placeholder}
	if c.Placeholder == nil {
		c.Placeholder = Placeholder
	}
	for _, v := range vols {
		c.Dirs[v.Target] = v.Source
	}
	for _, mt := range rec.Spec.Mounts {
		if mt.Kind == backend.KindWorkspace {
			c.Workspaces = append(c.Workspaces, mt.Target)
		}
	}
	if err := agent.Seed(a, c); err != nil && m.Agents.Warn != nil {
		m.Agents.Warn(err.Error())
	}
}

// hostConfigMounts shows the host's agent instructions and settings that exist, read-only, at
// their place in the agent's config folder. A file that will be mounted over gets a placeholder
// in the volume first (a valid empty JSON object for settings), so that the volume never holds
// an empty settings file that the agent would fail to read.
func hostConfigMounts(hc *agent.HostConfig, vols []backend.Mount) ([]backend.Mount, error) {
	dir := ""
	if hc.DirEnv != "" {
		dir = os.Getenv(hc.DirEnv)
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("--agent-config host: cannot find your home folder: %w", err)
		}
		dir = filepath.Join(home, hc.Dir)
	}
	var out []backend.Mount
	for _, item := range hc.Items {
		src, err := filepath.EvalSymlinks(filepath.Join(dir, item))
		if err != nil {
			continue
		}
		st, err := os.Stat(src)
		if err != nil || !(st.IsDir() || st.Mode().IsRegular()) {
			continue
		}
		target := hc.Target + "/" + item
		if !st.IsDir() {
			for _, v := range vols {
				if v.Target == hc.Target {
					// The volume is the sandboxes': created beneath it, never through a link.
					content := ""
					if strings.HasSuffix(item, ".json") || strings.HasSuffix(item, ".jsonc") {
						content = "{}\n"
					}
					fsutil.CreateFileBeneath(v.Source, item, []byte(content), 0o600)
				}
			}
		}
		out = append(out, backend.Mount{Kind: backend.KindAgentConfig, Source: src, Target: target, ReadOnly: true})
	}
	return out, nil
}

func isUserMount(m backend.Mount) bool { return !m.Managed() }

func setAgentOptions(rec *store.Record, o Options) {
	if o.AgentVersionSet {
		rec.AgentVersion = pinned(o.AgentVersion)
	}
	if o.AgentConfigSet {
		rec.AgentConfig = agentConfig(o.AgentConfig)
	}
}

// applyAgentChange records a new agent version or --agent-config for an existing sandbox. A
// stopped sandbox takes it at its next start; a running one keeps what it started with, so
// paddock says that it must be restarted, unless it already runs the version asked for.
func (m *Manager) applyAgentChange(ctx context.Context, rec *store.Record, o Options) (*store.Record, bool, error) {
	change := agentChange(rec, o)
	if change == "" {
		return rec, false, nil
	}
	unlock, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	st, err := m.For(rec).State(ctx, m.Sandbox(rec))
	if err != nil {
		return nil, false, err
	}
	sameConfig := !o.AgentConfigSet || agentConfig(o.AgentConfig) == rec.AgentConfig
	sameVersion := !o.AgentVersionSet || pinned(o.AgentVersion) == rec.AgentVersion ||
		pinned(o.AgentVersion) != "" && pinned(o.AgentVersion) == runningAgentVersion(rec.Spec)
	if st.Status == "running" && !(sameConfig && sameVersion) {
		return nil, false, fmt.Errorf("%w: sandbox %s is running with other agent settings (%s); run again with --recreate to restart it with them, keeping its home, /tmp and installed state",
			ErrDrift, rec.Name, change)
	}
	setAgentOptions(rec, o)
	if err := m.Store.Save(rec); err != nil {
		return nil, false, err
	}
	return rec, false, nil
}

// rehome moves mount targets and variable values under the agent's default home (/root) to home.
func rehome(ms []backend.Mount, env []string, home string) ([]backend.Mount, []string) {
	move := func(p string) string {
		if p == agent.Home || strings.HasPrefix(p, agent.Home+"/") {
			return path.Clean(home + strings.TrimPrefix(p, agent.Home))
		}
		return p
	}
	for i := range ms {
		if ms[i].Kind == backend.KindVolume || ms[i].Kind == backend.KindAgentConfig {
			ms[i].Target = move(ms[i].Target)
		}
	}
	for i, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[i] = k + "=" + move(v)
		}
	}
	return ms, env
}
