// Package sandbox is the manager: it maps a (workspace, agent) pair to one sandbox, creates and
// reuses sandboxes under a lock, detects configuration drift, and drives the backend's lifecycle.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/handover"
	"github.com/paddockhq/paddock/internal/hostpath"
	"github.com/paddockhq/paddock/internal/image"
	"github.com/paddockhq/paddock/internal/store"
)

// Error categories.
var (
	ErrDrift   = errors.New("sandbox settings changed")
	ErrRunning = errors.New("sandbox is running")
	ErrInUse   = errors.New("name already in use")
)

// Manager drives sandboxes through their backends.
type Manager struct {
	Store *store.Store
	// Backend makes new sandboxes; an existing sandbox is always run by the backend it was
	// created on (its record's Backend, looked up in Backends).
	Backend  backend.Backend
	Backends map[string]backend.Backend
	// BackendChosen: the backend was asked for (--backend, PADDOCK_BACKEND, the config file),
	// so a sandbox found on another one is worth a note.
	BackendChosen bool
	// Agents installs agents and keeps their volumes; nil leaves managed mounts alone.
	Agents *AgentSupport
	// UnsafeNoLimits starts sandboxes even where the host cannot limit their memory and CPU.
	UnsafeNoLimits bool
	// Progress receives status lines, warnings and the progress of template pulls (nil: none).
	Progress io.Writer
	// Fetcher fills the template cache (the binary's: see cmd/internal/wire).
	Fetcher image.Fetcher
	// DiskDefault is the config file's disk limit of new sandboxes (ParseDisk's form; "none"
	// for no limit). "" is paddock's default: runtime.DefaultDiskBytes where the backend has
	// project quotas, else none.
	DiskDefault string
}

// Options are the settings of run and create. The *Set fields say which were given on the
// command line, so that an existing sandbox is compared only on those.
type Options struct {
	Agent     string
	Workspace string // "" means the current folder
	Extra     []backend.Mount
	Name      string
	Env       []string
	Volumes   []backend.Mount
	Limits    backend.Limits
	Template  string
	Pull      string // --pull: always, missing (default) or never
	Recreate  bool
	Force     bool // allow / or the home folder as workspace
	// AgentVersion pins the agent's version ("" or "latest" follow the latest); AgentConfig
	// "host" shows the host's agent instructions read-only ("none" stops that).
	AgentVersion, AgentConfig       string
	AgentVersionSet, AgentConfigSet bool

	// DockerSocket shows the engine's socket at /var/run/docker.sock (--mount-docker-socket).
	DockerSocket, DockerSocketSet bool
	// Network is the egress preset (--network locked|balanced|open; default balanced).
	Network    string
	NetworkSet bool

	// Ports are published (-p): on a new sandbox they are part of it; on an existing one they
	// are added to its published ports.
	Ports []backend.Port
	// Branch puts a new sandbox in branch mode (--branch[=NAME]): its own checkout of the
	// workspace's repository on branch paddock/NAME. DefaultBranch names it after the sandbox.
	Branch string

	branchGitDir, branchBase string // read from the repository by ensure

	// DiskBytes and DiskInodes are --disk (DiskSet): refused where the backend cannot enforce
	// them, never ignored.
	DiskBytes, DiskInodes int64
	DiskSet               bool

	EnvSet, MountsSet, CPUsSet, MemorySet, PidsSet, TemplateSet bool
}

// DockerSocketTarget is where --mount-docker-socket shows the Docker socket in the sandbox.
const DockerSocketTarget = "/var/run/docker.sock"

// For is the backend that runs rec: the one it was created on.
func (m *Manager) For(rec *store.Record) backend.Backend {
	name := rec.Backend
	if name == "" {
		name = "native"
	}
	if m.Backend != nil && m.Backend.Name() == name {
		return m.Backend
	}
	if b, ok := m.Backends[name]; ok {
		return b
	}
	return missingBackend(name)
}

// missingBackend stands for a backend this build does not have.
type missingBackend string

func (b missingBackend) err() error {
	return fmt.Errorf("%w: this sandbox runs on the %q backend, which this paddock does not have", backend.ErrUnsupported, string(b))
}
func (b missingBackend) Name() string                                                { return string(b) }
func (b missingBackend) Start(context.Context, *backend.Sandbox) error               { return b.err() }
func (b missingBackend) Stop(context.Context, *backend.Sandbox, time.Duration) error { return b.err() }
func (b missingBackend) State(context.Context, *backend.Sandbox) (backend.State, error) {
	return backend.State{Status: "unknown"}, nil
}
func (b missingBackend) Exec(context.Context, *backend.Sandbox, backend.ExecRequest, backend.ExecIO) (int, error) {
	return -1, b.err()
}
func (b missingBackend) Remove(context.Context, *backend.Sandbox) error { return b.err() }

// nameRE is compiled on first use: package initialisation runs in every paddock process.
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`) })

// Sandbox binds a record to its state folder for the backend.
func (m *Manager) Sandbox(r *store.Record) *backend.Sandbox {
	return &backend.Sandbox{ID: r.ID, Name: r.Name, Dir: m.Store.Dir(r.ID), Spec: r.Spec}
}

// ResolveWorkspace checks a workspace folder and returns its real absolute path.
func (m *Manager) ResolveWorkspace(dir string, force bool) (string, error) {
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", badInput("the current folder is gone; cd to a project folder or pass -w DIR")
		}
		dir = wd
	}
	ws, err := hostPath(dir)
	if err != nil {
		return "", badInput("workspace %s does not exist; create it or pass -w with an existing folder", dir)
	}
	if st, err := os.Stat(ws); err != nil || !st.IsDir() {
		return "", badInput("workspace %s is not a folder", ws)
	}
	home, _ := os.UserHomeDir()
	if home != "" {
		if h, err := filepath.EvalSymlinks(home); err == nil {
			home = h
		}
	}
	state := m.Store.Root
	if s, err := filepath.EvalSymlinks(state); err == nil {
		state = s
	}
	switch {
	case ws == "/" && !force:
		return "", badInput("refusing to use / as the workspace: the agent could change every file on this machine; cd to a project folder, or pass --force")
	case ws == home && !force:
		return "", badInput("refusing to use your home folder %s as the workspace: the agent could read your keys and change every file you own; cd to a project folder, or pass --force", ws)
	case ws != "/" && ws != home && reservedTarget(ws):
		return "", badInput("workspace %s is a system folder; pick a project folder", ws)
	case within(state, ws):
		return "", badInput("workspace %s is inside paddock's state folder %s; pick another folder", ws, state)
	case within(ws, state) && !force:
		return "", badInput("workspace %s contains paddock's state folder %s; pick another folder, or pass --force (the state folder is then hidden in the sandbox)", ws, state)
	}
	return ws, nil
}

// stateRoot is the store's folder with symlinks resolved.
func (m *Manager) stateRoot() string {
	if s, err := filepath.EvalSymlinks(m.Store.Root); err == nil {
		return s
	}
	return m.Store.Root
}

func within(parent, p string) bool {
	return p == parent || strings.HasPrefix(p, strings.TrimSuffix(parent, "/")+"/")
}

// Ensure returns the sandbox for the options' workspace and agent, creating it when there is
// none. An existing sandbox whose settings differ from the given ones is re-created only with
// Recreate; otherwise the difference is reported.
func (m *Manager) Ensure(ctx context.Context, o Options) (*store.Record, bool, error) {
	if len(o.Ports) > 0 {
		if _, err := m.portForwarder(m.Backend); err != nil {
			return nil, false, err
		}
	}
	rec, created, err := m.ensure(ctx, o)
	if err == nil && !created && len(o.Ports) > 0 {
		err = m.Publish(ctx, rec, o.Ports...)
	}
	return rec, created, err
}

func (m *Manager) ensure(ctx context.Context, o Options) (*store.Record, bool, error) {
	ws, err := m.ResolveWorkspace(o.Workspace, o.Force)
	if err != nil {
		return nil, false, err
	}
	for i, x := range o.Extra {
		src, err := m.ResolveWorkspace(x.Source, o.Force)
		if err != nil {
			return nil, false, err
		}
		o.Extra[i].Source, o.Extra[i].Target = src, src
	}
	// Each folder is identified as the user gives it: every start checks it is still that one.
	wsID, err := hostpath.Identify(ws)
	if err != nil {
		return nil, false, badInput("workspace %s: %v", ws, err)
	}
	for _, ms := range [][]backend.Mount{o.Extra, o.Volumes} {
		if err := identify(ms); err != nil {
			return nil, false, err
		}
	}
	if err := CheckAgentOptions(o); err != nil {
		return nil, false, err
	}
	if o.Network != "" {
		if err := egress.CheckPreset(o.Network); err != nil {
			return nil, false, badInput("--network %q: choose locked, balanced (the default) or open", o.Network)
		}
	}
	if o.Name != "" && !nameRE().MatchString(o.Name) {
		return nil, false, badInput("--name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", o.Name)
	}
	if o.Template == "" {
		o.Template = "host"
	}
	var branchGitDir, branchBase string
	if o.Branch != "" {
		if o.Branch == DefaultBranch {
			o.Branch = o.Name
			if o.Branch == "" {
				o.Branch = o.Agent + "-" + sanitize(filepath.Base(ws))
			}
		}
		if !nameRE().MatchString(o.Branch) {
			return nil, false, badInput("--branch=%q: use letters, digits, '.', '_' and '-', starting with a letter or digit", o.Branch)
		}
		if branchGitDir, branchBase, err = branchSource(ctx, ws); err != nil {
			return nil, false, err
		}
		o.branchGitDir, o.branchBase = branchGitDir, branchBase
	}
	// The backend of the sandbox: the existing one's, else the chosen one.
	be := m.Backend
	existing := false
	if recs, _, err := m.Store.List(); err == nil {
		for _, r := range recs {
			if r.Workspace == ws && r.Agent == o.Agent {
				be, existing = m.For(r), true
			}
		}
	}
	// A worktree's repository, for a new sandbox or new mounts: read before the store is locked
	// (the workspace's .git is the sandbox's to plant).
	var git []backend.Mount
	if !existing || o.MountsSet {
		var why string
		if git, why = worktreeMounts(ws, m.stateRoot()); why != "" && m.Progress != nil {
			fmt.Fprintf(m.Progress, "paddock: not mounting the git folder named by %s: %s\n", filepath.Join(ws, ".git"), why)
		}
	}
	// Once per command: paddock may hand the command over to paddock-oci after saying it.
	if be.Name() != m.Backend.Name() && m.BackendChosen && m.Progress != nil && os.Getenv(handover.HandedOverEnv) == "" {
		fmt.Fprintf(m.Progress, "paddock: the sandbox of this folder runs on the %s backend, where it was created (remove it to make one on %s)\n",
			be.Name(), m.Backend.Name())
	}
	// An OCI template is resolved (pulled as --pull says) before the store is locked: a pull can
	// take a while and must not hold up other sandboxes. A backend with its own image store (the
	// Docker engine) resolves every template, the host template included.
	var img *backend.Image
	if r, ok := be.(backend.ImageResolver); ok && (o.Template != "host" || o.TemplateSet || !m.exists(ws, o.Agent)) {
		policy, err := image.ParsePullPolicy(o.Pull)
		if err != nil {
			return nil, false, badInput("%s", strings.TrimPrefix(err.Error(), image.ErrBadRef.Error()+": "))
		}
		if img, err = r.ResolveImage(ctx, o.Template, string(policy), m.Progress); err != nil {
			return nil, false, err
		}
		if o.Template != "host" {
			o.Template = img.Ref
		}
	} else if o.Template != "host" {
		if img, err = m.resolveImage(ctx, o); err != nil {
			return nil, false, err
		}
		o.Template = img.Ref
	}
	unlock, err := m.Store.Lock()
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	recs, bad, err := m.Store.List()
	if err != nil {
		return nil, false, err
	}
	var found *store.Record
	for _, r := range recs {
		if r.Workspace != ws || r.Agent != o.Agent {
			continue
		}
		if o.Name != "" && r.Name == o.Name {
			found = r // by name: a branch sandbox too
			break
		}
		if found == nil && branchName(r) == o.Branch {
			found = r
		}
	}
	if o.Name != "" {
		for _, r := range recs {
			if r.Name == o.Name && r != found {
				return nil, false, fmt.Errorf("%w: %q is the sandbox of %s (%s); pick another --name", ErrInUse, o.Name, r.Workspace, r.Agent)
			}
		}
		if found != nil && found.Name != o.Name {
			return nil, false, fmt.Errorf("%w: this folder already has a %s sandbox, %s; use it, or remove it first", ErrInUse, o.Agent, found.Name)
		}
	}
	if found != nil {
		return m.reuse(ctx, found, o, img, git)
	}
	if err := checkMoved(recs, o.Agent, ws, wsID); err != nil {
		return nil, false, err
	}
	if err := m.checkDamaged(ctx, bad, ws); err != nil {
		return nil, false, err
	}
	if o.Branch != "" {
		rec, err := m.createBranch(ctx, recs, ws, o, img)
		return rec, err == nil, err
	}
	rec, err := m.create(ctx, recs, backend.Mount{Kind: backend.KindWorkspace, Source: ws, Target: ws, ID: wsID}, git, o, img)
	return rec, err == nil, err
}

func branchName(r *store.Record) string {
	if r.Branch == nil {
		return ""
	}
	return r.Branch.Name
}

// exists reports whether the folder has a sandbox of the agent.
func (m *Manager) exists(ws, agentName string) bool {
	recs, _, _ := m.Store.List()
	for _, r := range recs {
		if r.Workspace == ws && r.Agent == agentName {
			return true
		}
	}
	return false
}

// resolveImage finds (or pulls) the OCI template of the options.
func (m *Manager) resolveImage(ctx context.Context, o Options) (*backend.Image, error) {
	policy, err := image.ParsePullPolicy(o.Pull)
	if err != nil {
		return nil, badInput("%s", strings.TrimPrefix(err.Error(), image.ErrBadRef.Error()+": "))
	}
	st, err := m.Templates()
	if err != nil {
		return nil, err
	}
	im, err := st.Ensure(ctx, o.Template, policy, m.Progress)
	if errors.Is(err, image.ErrBadRef) {
		return nil, badInput("template %q: %v", o.Template, strings.TrimPrefix(err.Error(), image.ErrBadRef.Error()+": "))
	}
	if err != nil {
		return nil, err
	}
	img := &backend.Image{Ref: im.Ref, Digest: im.Digest, LayerDirs: im.LayerDirs, User: im.Config.User,
		Env: im.Config.Env, WorkingDir: im.Config.WorkingDir}
	// Rootless, an image with a non-root USER needs its layers laid out with that user as the
	// calling user (see image.Store.ForUser); the same layers otherwise.
	if u, ok := backend.LookupImageUser(img); ok {
		if im, err = st.ForUser(ctx, im, u.UID, u.GID, m.Progress); err != nil {
			return nil, err
		}
		img.LayerDirs = im.LayerDirs
	}
	return img, nil
}

func (m *Manager) create(ctx context.Context, recs []*store.Record, wsMount backend.Mount, git []backend.Mount, o Options, img *backend.Image) (*store.Record, error) {
	ws := wsMount.Target
	if err := m.diskLimits(ctx, m.Backend, &o); err != nil {
		return nil, err
	}
	id, err := m.Store.NewID()
	if err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		name = uniqueName(recs, o.Agent+"-"+sanitize(filepath.Base(ws)))
	}
	rec := &store.Record{
		ID: id, Name: name, Agent: o.Agent, Workspace: ws, Backend: m.Backend.Name(),
		Created:      time.Now().UTC().Truncate(time.Second),
		AgentVersion: pinned(o.AgentVersion), AgentConfig: agentConfig(o.AgentConfig),
		Spec: backend.Spec{
			Template: o.Template, Image: img, Hostname: name, Workdir: ws,
			Mounts: append(append([]backend.Mount{wsMount}, git...), mounts(o)...),
			Env:    o.Env, Limits: o.Limits,
			Egress:         egressSpec(o.Network),
			UnsafeNoLimits: m.UnsafeNoLimits,
			Ports:          o.Ports,
		},
	}
	if o.DockerSocket {
		sock, err := m.dockerSocket(ctx, m.Backend)
		if err != nil {
			return nil, err
		}
		rec.Spec.Mounts = append(rec.Spec.Mounts, sock)
	}
	rec.Spec.Hide = m.hidden(rec.Spec.Mounts)
	if err := checkMounts(rec.Spec.Mounts); err != nil {
		return nil, err
	}
	if err := m.Store.Create(rec); err != nil {
		return nil, fmt.Errorf("recording the new sandbox: %w", err)
	}
	return rec, nil
}

// dockerSocket is the mount of --mount-docker-socket on backend be.
func (m *Manager) dockerSocket(ctx context.Context, be backend.Backend) (backend.Mount, error) {
	sp, ok := be.(backend.SocketProvider)
	if !ok {
		return backend.Mount{}, badInput("--mount-docker-socket: the %s backend cannot show a Docker socket", be.Name())
	}
	src, err := sp.DockerSocket(ctx)
	if err != nil {
		return backend.Mount{}, badInput("--mount-docker-socket: %v", err)
	}
	return backend.Mount{Kind: backend.KindDockerSock, Source: src, Target: DockerSocketTarget}, nil
}

func isDockerSocket(m backend.Mount) bool { return m.Kind == backend.KindDockerSock }

// hidden lists paddock's state folder when a forced workspace contains it: the sandbox must never
// see other sandboxes' state.
func (m *Manager) hidden(ms []backend.Mount) []string {
	state := m.stateRoot()
	for _, mt := range ms {
		if within(mt.Source, state) {
			return []string{filepath.Join(mt.Target, strings.TrimPrefix(state, mt.Source))}
		}
	}
	return nil
}

// identify records the identity of each folder the user named.
func identify(ms []backend.Mount) error {
	for i, mt := range ms {
		if !mt.Recorded() || !mt.ID.Zero() {
			continue
		}
		id, err := hostpath.Identify(mt.Source)
		if err != nil {
			return badInput("%s: %v", mt.Source, err)
		}
		ms[i].ID = id
	}
	return nil
}

func mounts(o Options) []backend.Mount {
	return append(append([]backend.Mount{}, o.Extra...), o.Volumes...)
}

// checkMounts refuses two mounts at one target.
func checkMounts(ms []backend.Mount) error {
	seen := map[string]string{}
	for _, m := range ms {
		if prev, ok := seen[m.Target]; ok {
			return badInput("%s and %s would both appear at %s in the sandbox; give one of them another path", prev, m.Source, m.Target)
		}
		seen[m.Target] = m.Source
	}
	return nil
}

func (m *Manager) reuse(ctx context.Context, rec *store.Record, o Options, img *backend.Image, git []backend.Mount) (*store.Record, bool, error) {
	want := rec.Spec
	if o.EnvSet {
		want.Env = o.Env
	}
	if o.MountsSet {
		want.Mounts = append(append([]backend.Mount{rec.Spec.Mounts[0]}, git...), mounts(o)...)
		want.Mounts = append(want.Mounts, slices.DeleteFunc(slices.Clone(rec.Spec.Mounts), isUserMount)...)
		// -v describes the folders; the Docker socket has its own flag and stays.
		for _, mt := range rec.Spec.Mounts {
			if isDockerSocket(mt) {
				want.Mounts = append(want.Mounts, mt)
			}
		}
	}
	if o.DockerSocketSet {
		has := slices.ContainsFunc(want.Mounts, isDockerSocket)
		switch {
		case o.DockerSocket && !has:
			sock, err := m.dockerSocket(ctx, m.For(rec))
			if err != nil {
				return nil, false, err
			}
			want.Mounts = append(slices.Clone(want.Mounts), sock)
		case !o.DockerSocket && has:
			want.Mounts = slices.DeleteFunc(slices.Clone(want.Mounts), isDockerSocket)
		}
	}
	if o.CPUsSet {
		want.Limits.CPUs = o.Limits.CPUs
	}
	if o.MemorySet {
		want.Limits.MemoryBytes = o.Limits.MemoryBytes
	}
	if o.PidsSet {
		want.Limits.Pids = o.Limits.Pids
	}
	if o.DiskSet {
		want.Limits.DiskBytes, want.Limits.DiskInodes = o.DiskBytes, o.DiskInodes
	}
	if o.TemplateSet {
		want.Template = o.Template
		if rec.Spec.Template == "" && want.Template == "host" {
			want.Template = ""
		}
	}
	if o.NetworkSet {
		want.Egress = egressSpec(o.Network)
	}
	diffs := Diff(rec.Spec, want)
	if len(diffs) == 0 && !o.Recreate {
		return m.applyAgentChange(ctx, rec, o)
	}
	if !o.Recreate {
		if c := agentChange(rec, o); c != "" {
			diffs = append(diffs, c)
		}
		return nil, false, fmt.Errorf("%w: sandbox %s was created with other settings (%s); run again with --recreate to rebuild it, keeping its home, /tmp and installed state",
			ErrDrift, rec.Name, strings.Join(diffs, "; "))
	}
	want.Hide = m.hidden(want.Mounts)
	if err := checkMounts(want.Mounts); err != nil {
		return nil, false, err
	}
	unlock, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if err := m.diskChange(ctx, rec, want.Limits); err != nil {
		return nil, false, err
	}
	if err := m.For(rec).Stop(ctx, m.Sandbox(rec), 10*time.Second); err != nil {
		return nil, false, err
	}
	if o.TemplateSet {
		// Recreated from the template as it is now (the sandbox's own changes stay on top).
		want.Image = img
	}
	rec.Spec = want
	setAgentOptions(rec, o)
	if err := m.Store.Save(rec); err != nil {
		return nil, false, err
	}
	return rec, false, nil
}

// egressSpec is the egress of a new sandbox with a preset ("" for the default).
func egressSpec(preset string) *backend.Egress {
	if preset == "" {
		preset = egress.DefaultPreset
	}
	return &backend.Egress{ProxyPort: egress.DefaultPort, Policy: preset}
}

// networkOf names a sandbox's network: its egress preset, or "none" (loopback only).
func networkOf(s backend.Spec) string {
	if s.Egress == nil {
		return "none"
	}
	return s.Egress.Policy
}

// Diff lists, in plain words, how want differs from have.
func Diff(have, want backend.Spec) []string {
	var d []string
	if have.Template != want.Template {
		d = append(d, fmt.Sprintf("template: %s -> %s", have.Template, want.Template))
	}
	hm, wm := map[string]string{}, map[string]string{}
	for _, kv := range have.Env {
		k, v, _ := strings.Cut(kv, "=")
		hm[k] = v
	}
	for _, kv := range want.Env {
		k, v, _ := strings.Cut(kv, "=")
		wm[k] = v
	}
	var env []string
	for k, v := range wm {
		if hv, ok := hm[k]; !ok {
			env = append(env, "+"+k)
		} else if hv != v {
			env = append(env, "~"+k)
		}
	}
	for k := range hm {
		if _, ok := wm[k]; !ok {
			env = append(env, "-"+k)
		}
	}
	if len(env) > 0 {
		slices.Sort(env)
		d = append(d, "env: "+strings.Join(env, " "))
	}
	// Paddock-managed mounts (the agent, its volumes) are refreshed at each start, never drift.
	hms, wms := slices.DeleteFunc(slices.Clone(have.Mounts), backend.Mount.Managed), slices.DeleteFunc(slices.Clone(want.Mounts), backend.Mount.Managed)
	if !slices.EqualFunc(hms, wms, backend.SameMount) {
		d = append(d, fmt.Sprintf("mounts: %s -> %s", describeMounts(tail(hms)), describeMounts(tail(wms))))
	}
	if have.Limits.CPUs != want.Limits.CPUs {
		d = append(d, fmt.Sprintf("cpus: %s -> %s", orNone(have.Limits.CPUs), orNone(want.Limits.CPUs)))
	}
	if have.Limits.MemoryBytes != want.Limits.MemoryBytes {
		d = append(d, fmt.Sprintf("memory: %s -> %s", FormatBytes(have.Limits.MemoryBytes), FormatBytes(want.Limits.MemoryBytes)))
	}
	if hn, wn := networkOf(have), networkOf(want); hn != wn {
		d = append(d, fmt.Sprintf("network: %s -> %s", hn, wn))
	}
	if have.Limits.DiskBytes != want.Limits.DiskBytes || have.Limits.DiskInodes != want.Limits.DiskInodes {
		d = append(d, fmt.Sprintf("disk: %s -> %s", FormatDisk(have.Limits), FormatDisk(want.Limits)))
	}
	if have.Limits.Pids != want.Limits.Pids {
		d = append(d, fmt.Sprintf("pids: %s -> %s", orNone(float64(have.Limits.Pids)), orNone(float64(want.Limits.Pids))))
	}
	return d
}

func tail(ms []backend.Mount) []backend.Mount {
	if len(ms) == 0 {
		return nil
	}
	return ms[1:]
}

func describeMounts(ms []backend.Mount) string {
	if len(ms) == 0 {
		return "none"
	}
	var s []string
	for _, m := range ms {
		x := m.Source
		if m.Target != m.Source {
			x += ":" + m.Target
		}
		if m.ReadOnly {
			x += ":ro"
		}
		s = append(s, x)
	}
	return strings.Join(s, ",")
}

func orNone(f float64) string {
	if f == 0 {
		return "none"
	}
	return fmt.Sprint(f)
}

// FormatBytes prints a byte count in binary units ("none" for zero).
func FormatBytes(n int64) string {
	switch {
	case n == 0:
		return "none"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dg", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dm", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1fm", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d", n)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-.")
	if out == "" {
		out = "root"
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return out
}

func uniqueName(recs []*store.Record, base string) string {
	used := map[string]bool{}
	for _, r := range recs {
		used[r.Name] = true
	}
	if !used[base] {
		return base
	}
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s-%d", base, i); !used[n] {
			return n
		}
	}
}

// Start starts the sandbox unless it runs; it reports whether it started it.
func (m *Manager) Start(ctx context.Context, rec *store.Record) (bool, error) {
	sb := m.Sandbox(rec)
	if st, err := m.For(rec).State(ctx, sb); err == nil && st.Status == "running" {
		return false, m.Revive(ctx, rec)
	}
	unlock, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return false, err
	}
	defer unlock()
	if st, err := m.For(rec).State(ctx, sb); err == nil && st.Status == "running" {
		return false, m.Revive(ctx, rec)
	}
	// Re-read the record under the lock: it may have been removed or re-created meanwhile.
	cur, err := m.Store.Resolve(rec.ID)
	if err != nil {
		return false, err
	}
	*rec = *cur
	if m.UnsafeNoLimits && !rec.Spec.UnsafeNoLimits {
		// Started with --unsafe-no-limits: the choice stays with the sandbox (a later start
		// without the flag must not be refused) and inspect shows it.
		rec.Spec.UnsafeNoLimits = true
		if err := m.Store.Save(rec); err != nil {
			return false, err
		}
	}
	if err := m.refreshAgent(ctx, rec); err != nil {
		return false, err
	}
	if err := m.checkSources(rec); err != nil {
		return false, err
	}
	if err := m.For(rec).Start(ctx, m.startable(rec)); err != nil {
		return false, fmt.Errorf("starting sandbox %s: %w", rec.Name, err)
	}
	return true, nil
}

// checkSources refuses to start a sandbox whose folders are gone or are no longer the folders the
// user named (replaced, or a symlink put on the way: the backend opens them without following
// symlinks and checks again as it mounts them). A record from before identities were kept gets
// them now.
func (m *Manager) checkSources(rec *store.Record) error {
	missing := m.recheckWorktree(rec)
	for _, mt := range rec.Spec.Mounts {
		if !mt.Recorded() {
			if _, err := os.Stat(mt.Source); err != nil {
				return fmt.Errorf("%w: %s of sandbox %s no longer exists; restore it, or remove the sandbox with `paddock rm %s`",
					ErrBadInput, mt.Source, rec.Name, rec.Name)
			}
			continue
		}
		missing = missing || mt.ID.Zero()
		f, err := hostpath.OpenSame(mt.Source, mt.ID)
		switch {
		case errors.Is(err, hostpath.ErrChanged) || errors.Is(err, hostpath.ErrSymlink):
			return fmt.Errorf("%w: %s of sandbox %s is no longer the folder it was created with (replaced, or a symlink on the way); "+
				"restore it, or re-create the sandbox with `paddock rm %s` and run", ErrBadInput, mt.Source, rec.Name, rec.Name)
		case err != nil && mt.Kind == backend.KindWorkspace && mt.Source == rec.Workspace:
			return fmt.Errorf("%w: %s of sandbox %s no longer exists; moved or renamed? `paddock move %s NEW_FOLDER` points the sandbox there with its state; or restore it, or remove the sandbox with `paddock rm %s`",
				ErrBadInput, mt.Source, rec.Name, rec.Name, rec.Name)
		case err != nil:
			return fmt.Errorf("%w: %s of sandbox %s no longer exists; restore it, or remove the sandbox with `paddock rm %s`",
				ErrBadInput, mt.Source, rec.Name, rec.Name)
		}
		f.Close()
	}
	if missing {
		ms := slices.Clone(rec.Spec.Mounts)
		if identify(ms) == nil {
			rec.Spec.Mounts = ms
			return m.Store.Save(rec)
		}
	}
	return nil
}

// recheckWorktree validates a worktree's repository mount again at each start (the workspace's
// .git may have changed, and a record made before paddock checked worktrees may hold a folder a
// planted .git named): one that no longer validates is dropped, with a note. It reports whether
// the record changed.
func (m *Manager) recheckWorktree(rec *store.Record) bool {
	changed := false
	ms := slices.Clone(rec.Spec.Mounts)
	for i := 0; i < len(ms); i++ {
		if ms[i].Kind != backend.KindGitdir {
			continue
		}
		git, why := worktreeMounts(rec.Workspace, m.stateRoot())
		if len(git) == 1 && git[0].Source == ms[i].Source {
			if ms[i].Why == "" {
				ms[i].Why, changed = git[0].Why, true
			}
			continue
		}
		if why == "" {
			why = "the workspace's .git no longer names it"
		}
		if m.Progress != nil {
			fmt.Fprintf(m.Progress, "paddock: sandbox %s: no longer mounting %s: %s\n", rec.Name, ms[i].Source, why)
		}
		ms = slices.Delete(ms, i, i+1)
		i--
		changed = true
	}
	if changed {
		rec.Spec.Mounts = ms
	}
	return changed
}

// startable is the sandbox as its backend starts it: with what it needs from the host now.
func (m *Manager) startable(rec *store.Record) *backend.Sandbox {
	sb := m.Sandbox(rec)
	if sb.Spec.Egress != nil {
		// The proxy finds the global policy, the CA and the keys under PADDOCK_HOME.
		eg := *sb.Spec.Egress
		eg.Home = m.Store.Root
		sb.Spec.Egress = &eg
	}
	sb.Spec.GitName, sb.Spec.GitEmail = hostGitIdentity()
	sb.Spec.HostPath = filepath.SplitList(os.Getenv("PATH"))
	sb.Spec.UnsafeNoLimits = rec.Spec.UnsafeNoLimits || m.UnsafeNoLimits
	return sb
}

// Revive restores what a running sandbox needs from the host, where its backend has such a
// thing (backend.Reviver).
func (m *Manager) Revive(ctx context.Context, rec *store.Record) error {
	r, ok := m.For(rec).(backend.Reviver)
	if !ok {
		return nil
	}
	if err := r.Revive(ctx, m.startable(rec)); err != nil {
		return fmt.Errorf("sandbox %s: %w", rec.Name, err)
	}
	return nil
}

// hostGitIdentity reads user.name and user.email from the host's global git configuration
// (includes and all) with one git process.
func hostGitIdentity() (name, email string) {
	out, err := exec.Command("git", "config", "--global", "--null", "--get-regexp", `^user\.(name|email)$`).Output()
	if err != nil {
		return "", ""
	}
	for _, entry := range strings.Split(string(out), "\x00") {
		k, v, _ := strings.Cut(entry, "\n")
		switch k {
		case "user.name":
			name = v
		case "user.email":
			email = v
		}
	}
	return name, email
}

// Stop stops a sandbox.
func (m *Manager) Stop(ctx context.Context, rec *store.Record, grace time.Duration) error {
	unlock, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return err
	}
	defer unlock()
	return m.For(rec).Stop(ctx, m.Sandbox(rec), grace)
}

// Remove deletes a sandbox and its private state; a running one only with force. The
// workspace and every mounted folder are left untouched.
func (m *Manager) Remove(ctx context.Context, rec *store.Record, force bool) error {
	unlock, err := m.Store.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	unlockSb, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return err
	}
	defer unlockSb()
	sb := m.Sandbox(rec)
	st, err := m.For(rec).State(ctx, sb)
	if err != nil {
		return err
	}
	if st.Status == "running" {
		if !force {
			return fmt.Errorf("%w: %s; stop it first or use rm -f", ErrRunning, rec.Name)
		}
		if err := m.For(rec).Stop(ctx, sb, 2*time.Second); err != nil {
			return err
		}
	}
	if err := m.For(rec).Remove(ctx, sb); err != nil {
		return err
	}
	dropReviewRef(ctx, rec)
	return nil
}
