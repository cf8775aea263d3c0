package sandbox

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/store"
)

// Entry is one sandbox in a listing.
type Entry struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Agent     string    `json:"agent"`
	Workspace string    `json:"workspace"`
	Status    string    `json:"status"`
	Created   time.Time `json:"created"`
	Backend   string    `json:"backend"`
	// Session is the background session (paddock run -d) of a running sandbox.
	Session *SessionInfo `json:"session,omitempty"`
	// Branch is a branch sandbox's branch (paddock run --branch); the counts while it runs.
	Branch *BranchStatus `json:"branch,omitempty"`
}

// List returns the sandboxes (running ones, or all) and the records that could not be read.
func (m *Manager) List(ctx context.Context, all bool) ([]Entry, []store.Corrupt, error) {
	recs, bad, err := m.Store.List()
	if err != nil {
		return nil, nil, err
	}
	entries := []Entry{}
	for _, r := range recs {
		st, err := m.For(r).State(ctx, m.Sandbox(r))
		if err != nil {
			return nil, nil, err
		}
		if !all && st.Status != "running" {
			continue
		}
		e := Entry{ID: r.ID, Name: r.Name, Agent: r.Agent, Workspace: r.Workspace,
			Status: st.Status, Created: r.Created, Backend: BackendOf(r)}
		if st.Status == "running" {
			e.Session = m.Session(r)
			e.Branch = m.branchStatus(ctx, r)
		} else if r.Branch != nil {
			e.Branch = &BranchStatus{Name: BranchPrefix + r.Branch.Name, Base: r.Branch.Base}
		}
		entries = append(entries, e)
	}
	return entries, bad, nil
}

// Resolve finds a sandbox by name, ID or unique ID prefix.
func (m *Manager) Resolve(ref string) (*store.Record, error) { return m.Store.Resolve(ref) }

// BackendOf is the backend of a record (records from before backends were recorded: native).
func BackendOf(r *store.Record) string {
	if r.Backend == "" {
		return "native"
	}
	return r.Backend
}

// Inspection is what `paddock inspect` shows of one sandbox.
type Inspection struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Agent     string            `json:"agent"`
	Backend   string            `json:"backend"`
	Created   time.Time         `json:"created"`
	Template  string            `json:"template"`
	Image     *InspectImage     `json:"template_image,omitempty"`
	Workspace string            `json:"workspace"`
	Workdir   string            `json:"workdir"`
	Mounts    InspectMounts     `json:"mounts"`
	Env       []string          `json:"env"`
	Limits    InspectLimits     `json:"limits"`
	State     backend.State     `json:"state"`
	Paths     map[string]string `json:"paths"`
	// AgentInstall is the installed agent package, for agents that come from npm.
	AgentInstall *AgentInstall `json:"agent_install,omitempty"`
	// DockerSocket: the Docker engine's socket is at /var/run/docker.sock inside.
	DockerSocket bool `json:"docker_socket"`
	// Network is the sandbox's egress: its preset and the proxy's port inside (null: loopback only).
	Network *InspectNetwork `json:"network"`
	// Ports are its published ports (paddock run -p, paddock port).
	Ports []backend.Port `json:"ports"`
	// Differences says how this sandbox differs from one on the native engine.
	Differences []string `json:"differences,omitempty"`
}

// InspectNetwork is a sandbox's egress.
type InspectNetwork struct {
	Preset    string `json:"preset"`
	Proxy     string `json:"proxy"` // inside the sandbox
	AuditLog  string `json:"audit_log"`
	RulesFile string `json:"rules_file"` // the sandbox's own rules
}

// InspectImage is the OCI template a sandbox was made from.
type InspectImage struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	User   string `json:"user,omitempty"`
}

// InspectMounts are a sandbox's mounts by role.
type InspectMounts struct {
	Workspace  backend.Mount   `json:"workspace"`
	Extra      []backend.Mount `json:"extra"`
	Volumes    []backend.Mount `json:"volumes"`
	Persistent []backend.Mount `json:"persistent"`
}

// InspectLimits are a sandbox's limits, asked for and enforced.
type InspectLimits struct {
	Requested   backend.Limits       `json:"requested"`
	Enforced    *backend.Enforcement `json:"enforced,omitempty"`
	DefaultPids int64                `json:"default_pids"`
	// Disk is the sandbox's disk limit (what it writes outside the workspace) and its use, or
	// why it has none.
	Disk backend.DiskStatus `json:"disk"`
	// UnsafeNoLimits: the sandbox was started with --unsafe-no-limits, and keeps that choice.
	UnsafeNoLimits bool `json:"unsafe_no_limits"`
}

// AgentInstall is the agent part of an inspection.
type AgentInstall struct {
	Package string `json:"package"`
	// Version is the version the sandbox runs (set at its last start; "" before the first).
	Version string `json:"version"`
	// Pinned is the version asked for with --agent-version ("" follows the latest).
	Pinned     string   `json:"pinned,omitempty"`
	Path       string   `json:"path,omitempty"`
	Volume     string   `json:"volume,omitempty"`
	ConfigDirs []string `json:"config_dirs"`
	// HostConfig is "host" when the host's agent instructions are shown read-only.
	HostConfig string `json:"agent_config,omitempty"`
}

// Inspect describes rec's sandbox: its settings, mounts, limits, state, and where its backend
// keeps it.
func (m *Manager) Inspect(ctx context.Context, rec *store.Record) (Inspection, error) {
	sb := m.Sandbox(rec)
	be := m.For(rec)
	st, err := be.State(ctx, sb)
	if err != nil {
		return Inspection{}, err
	}
	v := Inspection{ID: rec.ID, Name: rec.Name, Agent: rec.Agent, Backend: rec.Backend, Created: rec.Created,
		Template: rec.Spec.Template, Workspace: rec.Workspace, Workdir: rec.Spec.Workdir, Env: rec.Spec.Env,
		State: st, Paths: map[string]string{"state": sb.Dir}, Ports: rec.Spec.Ports}
	if v.Ports == nil {
		v.Ports = []backend.Port{}
	}
	if im := rec.Spec.Image; im != nil {
		v.Image = &InspectImage{Ref: im.Ref, Digest: im.Digest, User: im.User}
	}
	if eg := rec.Spec.Egress; eg != nil {
		v.Network = &InspectNetwork{Preset: eg.Policy, Proxy: fmt.Sprintf("127.0.0.1:%d", eg.ProxyPort),
			AuditLog: egress.AuditPath(sb.Dir), RulesFile: egress.SandboxPolicyPath(sb.Dir)}
	}
	if v.Env == nil {
		v.Env = []string{}
	}
	v.Mounts.Extra, v.Mounts.Volumes, v.Mounts.Persistent = []backend.Mount{}, []backend.Mount{}, []backend.Mount{}
	for i, mt := range rec.Spec.Mounts {
		switch {
		case i == 0:
			v.Mounts.Workspace = mt
		case mt.Kind == backend.KindWorkspace || mt.Kind == backend.KindGitdir || mt.Kind == backend.KindOrigin:
			v.Mounts.Extra = append(v.Mounts.Extra, mt)
		default:
			v.Mounts.Volumes = append(v.Mounts.Volumes, mt)
		}
		v.DockerSocket = v.DockerSocket || mt.Kind == backend.KindDockerSock
	}
	var d backend.Description
	if ds, ok := be.(backend.Describer); ok {
		d = ds.Describe(sb)
	}
	if d.Persistent != nil {
		v.Mounts.Persistent = d.Persistent
	}
	for k, p := range d.Paths {
		v.Paths[k] = p
	}
	v.Differences = d.Differences
	v.Limits = InspectLimits{Requested: rec.Spec.Limits, Enforced: st.Enforced, DefaultPids: d.DefaultPids,
		Disk: m.DiskStatus(ctx, rec), UnsafeNoLimits: rec.Spec.UnsafeNoLimits}
	v.AgentInstall = agentInstallOf(rec)
	return v, nil
}

func agentInstallOf(rec *store.Record) *AgentInstall {
	a, err := agent.Lookup(rec.Agent)
	if err != nil || a.Info().Package == "" {
		return nil
	}
	v := &AgentInstall{Package: a.Info().Package, Pinned: rec.AgentVersion, Volume: agent.VolumeName(rec.Agent),
		ConfigDirs: a.Info().ConfigDirs, HostConfig: rec.AgentConfig}
	for _, m := range rec.Spec.Mounts {
		if m.Kind == backend.KindAgent {
			v.Version, v.Path = filepath.Base(m.Source), m.Source
		}
	}
	return v
}
