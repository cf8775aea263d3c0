package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/egress"
)

// InstallSandbox makes the agents' install sandboxes with the manager's own backends: a
// short-lived sandbox of the host template (on the Docker backend, its host image) in which
// only the version's folder is writable (at /paddock/agent) and the npm settings carried over
// are read-only, whose network goes through the egress proxy with a policy of the install's own
// (locked, plus the registry and the known binary hosts), under an egress home of its own (no
// global rules, no keys). Its private state lives under PADDOCK_HOME/install and is
// removed when the install ends.
func (m *Manager) InstallSandbox() agent.InstallSandbox { return installSandboxes{m} }

type installSandboxes struct{ m *Manager }

// installTimeout bounds one install, its scripts included.
const installTimeout = 20 * time.Minute

func (s installSandboxes) Open(ctx context.Context, job agent.InstallJob) (agent.InstallBox, error) {
	m := s.m
	be := m.Backend
	if b, ok := m.Backends[job.Backend]; ok && job.Backend != "" {
		be = b
	}
	if be == nil {
		return nil, fmt.Errorf("no backend")
	}
	root := filepath.Join(m.Store.Root, "install", "sandboxes")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	// Leftovers of install sandboxes whose paddock was killed: their owner is gone.
	if old, _ := os.ReadDir(root); len(old) > 0 {
		for _, e := range old {
			d := filepath.Join(root, e.Name())
			id, err := os.ReadFile(filepath.Join(d, ".id"))
			if err != nil || ownerAlive(d) {
				continue
			}
			sb := &backend.Sandbox{ID: string(id), Name: "install-" + e.Name(), Dir: d}
			be.Stop(ctx, sb, 0)
			be.Remove(ctx, sb)
		}
	}
	var b [32]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	dir := filepath.Join(root, id[:12])
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(dir, ".owner"), []byte(processMark(os.Getpid())), 0o600)
	os.WriteFile(filepath.Join(dir, ".id"), []byte(id), 0o600)
	if job.Upstream != "" {
		if _, err := egress.ParseUpstream(job.Upstream); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("your npm proxy setting: %w", err)
		}
	}
	ehome := filepath.Join(m.Store.Root, "install", "egress")
	if err := os.MkdirAll(ehome, 0o700); err != nil {
		return nil, err
	}
	var rules []egress.Rule
	for _, a := range job.Allow {
		r, err := egress.ParseRule(a)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("install policy: %w", err)
		}
		rules = append(rules, r)
	}
	if err := (egress.RuleFile{Path: egress.SandboxPolicyPath(dir), Source: "sandbox"}).Add(false, rules...); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("install policy: %w", err)
	}
	name := "install-" + job.Agent + "-" + id[:8]
	spec := backend.Spec{
		Template: "host", Hostname: "paddock-install", Workdir: agent.AgentDir,
		Mounts: []backend.Mount{
			{Kind: backend.KindBind, Source: job.Dir, Target: agent.AgentDir},
			{Kind: backend.KindBind, Source: job.Config, Target: agent.InstallConfigDir, ReadOnly: true},
		},
		Egress: &backend.Egress{ProxyPort: egress.DefaultPort, Policy: egress.Locked, Home: ehome, Upstream: job.Upstream},
		// Short-lived and fenced by its process limit; it must run where the user's sandboxes
		// run, rootless hosts without cgroup delegation included. Every CPU: npm unpacks in
		// parallel, and the default (all but one) made installs a third slower on two cores.
		UnsafeNoLimits: true,
		Limits:         backend.Limits{Pids: 4096, CPUs: backend.AllCPUs},
	}
	if r, ok := be.(backend.ImageResolver); ok {
		img, err := r.ResolveImage(ctx, "host", "missing", m.Progress)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		spec.Image = img
	}
	sb := &backend.Sandbox{ID: id, Name: name, Dir: dir, Spec: spec}
	box := &installBox{be: be, sb: sb, env: job.Env, native: be.Name() == "native", rules: rules}
	if err := be.Start(ctx, sb); err != nil {
		box.Close()
		return nil, err
	}
	if !box.native && os.Geteuid() != 0 {
		// An ordinary user's install in a container: npm runs as that user (root in the container
		// is root on the host, whose files in the version's folder the user could not make
		// read-only nor remove), with a home of its own in the container.
		if err := box.userHome(ctx); err != nil {
			box.Close()
			return nil, err
		}
	}
	if box.native {
		box.before = box.listPrivate()
	} else if d, ok := be.(backend.Differ); ok {
		box.before = box.listHome(ctx)
		box.baseline = map[string]bool{}
		if ch, err := d.Changes(ctx, sb); err == nil {
			for _, c := range ch {
				box.baseline[c] = true
			}
		}
	}
	return box, nil
}

type installBox struct {
	be     backend.Backend
	sb     *backend.Sandbox
	env    []string
	native bool
	before map[string]bool
	// baseline: the container layer's changes right after the start (Docker).
	baseline map[string]bool
	rules    []egress.Rule

	// user runs the install's commands ("": the sandbox's root).
	user string

	mu      sync.Mutex
	stopped bool
	closed  bool
}

func (b *installBox) Run(ctx context.Context, argv []string, out *os.File) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return -1, err
	}
	defer null.Close()
	code, err := b.be.Exec(ctx, b.sb, backend.ExecRequest{Argv: argv, Env: b.env, Dir: agent.AgentDir, User: b.user},
		backend.ExecIO{Stdin: null, Stdout: out, Stderr: out})
	if ctx.Err() != nil && err == nil {
		err = ctx.Err()
	}
	return code, err
}

// stop ends every process of the sandbox (what a script forked included); allowed connections
// are in the audit log once they have ended.
func (b *installBox) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stopped {
		b.stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b.be.Stop(ctx, b.sb, 0)
	}
}

func (b *installBox) Hosts() []agent.HostUse {
	b.stop()
	seen := map[string]*agent.HostUse{}
	var order []string
	egress.ReadAudit(context.Background(), b.sb.Dir, false, func(r egress.Record) error {
		key := fmt.Sprintf("%s:%d:%s", r.Host, r.Port, r.Decision)
		h := seen[key]
		if h == nil {
			h = &agent.HostUse{Host: r.Host, Port: r.Port, Allowed: r.Decision == "allow", Rule: r.Rule, Reason: r.Reason}
			for _, rule := range b.rules {
				if rule.MatchName(strings.ToLower(r.Host), r.Port) {
					h.Listed = true
				}
			}
			seen[key] = h
			order = append(order, key)
		}
		h.Count++
		return nil
	})
	out := []agent.HostUse{}
	for _, k := range order {
		out = append(out, *seen[k])
	}
	return out
}

// npmOwn are the paths below the sandbox's home, /tmp and /var that npm itself writes: its
// cache and logs.
var npmOwn = []string{"home/.npm", "tmp/npm-", "tmp/node-compile-cache", "tmp/.npm"}

// listPrivate lists what is in the native sandbox's private home, /tmp and /var, seen from the
// host (never following what a script planted).
func (b *installBox) listPrivate() map[string]bool {
	files := map[string]bool{}
	for _, top := range []string{"home", "tmp", "var"} {
		base := filepath.Join(b.sb.Dir, top)
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == base {
				return nil
			}
			rel, _ := filepath.Rel(b.sb.Dir, p)
			files[rel] = true
			return nil
		})
	}
	return files
}

// installHome is the home of an ordinary user's install in a container.
const installHome = "/tmp/paddock-install-home"

// userHome makes the install's commands run as the calling user, with installHome.
func (b *installBox) userHome(ctx context.Context) error {
	uid, gid := os.Geteuid(), os.Getegid()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	code, err := b.be.Exec(ctx, b.sb, backend.ExecRequest{Argv: []string{"sh", "-c",
		fmt.Sprintf("mkdir -m 0700 %s && chown %d:%d %s", installHome, uid, gid, installHome)}, Dir: "/"},
		backend.ExecIO{Stdin: null, Stdout: null, Stderr: null})
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d", code)
	}
	if err != nil {
		return fmt.Errorf("making the install's home in the container: %w", err)
	}
	b.user = fmt.Sprintf("%d:%d", uid, gid)
	b.env = append(append([]string(nil), b.env...), "HOME="+installHome)
	return nil
}

// listHome lists the sandbox's home from inside (a backend whose home the host cannot read,
// Docker's volume), as paths "home/REL"; bounded, the names only.
func (b *installBox) listHome(ctx context.Context) map[string]bool {
	files := map[string]bool{}
	out, err := os.CreateTemp("", "paddock-install-home-")
	if err != nil {
		return files
	}
	defer os.Remove(out.Name())
	defer out.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return files
	}
	defer null.Close()
	b.be.Exec(ctx, b.sb, backend.ExecRequest{Argv: []string{"sh", "-c", "cd && find . -mindepth 1 -maxdepth 4 2>/dev/null | head -n 20000"}, Env: b.env, Dir: "/", User: b.user},
		backend.ExecIO{Stdin: null, Stdout: out, Stderr: null})
	out.Seek(0, 0)
	data, _ := io.ReadAll(io.LimitReader(out, 4<<20))
	for _, l := range strings.Split(string(data), "\n") {
		if rel, ok := strings.CutPrefix(l, "./"); ok && rel != "" && !strings.Contains(rel, "..") {
			files["home/"+rel] = true
		}
	}
	return files
}

func (b *installBox) Strays() []string {
	var files map[string]bool
	var changes []string
	switch d, ok := b.be.(backend.Differ); {
	case b.native:
		b.stop()
		files = b.listPrivate()
	case ok:
		// The home from inside while the sandbox runs, then the container layer once stopped.
		files = b.listHome(context.Background())
		b.stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ch, err := d.Changes(ctx, b.sb)
		cancel()
		if err != nil {
			return []string{"(could not list the changes: " + err.Error() + ")"}
		}
		changes = ch
	default:
		return nil
	}
	var out []string
nextChange:
	for _, c := range changes {
		if b.baseline[c] {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(c, "D "), "/")
		for _, own := range npmOwn {
			if strings.HasPrefix(rel, own) {
				continue nextChange
			}
		}
		out = append(out, c)
	}
next:
	for p := range files {
		if b.before[p] {
			continue
		}
		for _, own := range npmOwn {
			if strings.HasPrefix(p, own) {
				continue next
			}
		}
		// Report the topmost new entry only.
		if parent := filepath.Dir(p); parent != "." && !b.before[parent] && parent != "home" && parent != "tmp" && parent != "var" {
			continue
		}
		inside := "/" + p
		switch {
		case strings.HasPrefix(p, "home"):
			inside = "~" + strings.TrimPrefix(p, "home")
		}
		out = append(out, inside)
	}
	sort.Strings(out)
	return out
}

func (b *installBox) Close() error {
	b.stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return b.be.Remove(ctx, b.sb)
}

// processMark names a process by its pid and start time (a pid alone may be reused).
func processMark(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return fmt.Sprint(pid)
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 19 {
			return fmt.Sprintf("%d %s", pid, f[19])
		}
	}
	return fmt.Sprint(pid)
}

// ownerAlive reports whether the paddock that made an install sandbox still runs.
func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ".owner"))
	if err != nil {
		return false
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid > 0 && processMark(pid) == string(b)
}
