package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/backendtest"
	"github.com/paddockhq/paddock/internal/store"
	"github.com/paddockhq/paddock/internal/volume"
)

type agentFixture struct {
	m     *Manager
	be    *backendtest.Backend
	ws    string
	home  string
	cache string
}

// newAgentFixture has claude 1.0.0 already in the agent cache (a pinned, cached version needs
// neither npm nor the network).
func newAgentFixture(t *testing.T) *agentFixture {
	tmp := realTempDir(t)
	f := &agentFixture{be: &backendtest.Backend{BackendName: "fake"}, ws: mustMkdir(t, filepath.Join(tmp, "proj")),
		home: mustMkdir(t, filepath.Join(tmp, "home")), cache: filepath.Join(tmp, "state", "agents")}
	t.Setenv("HOME", f.home)
	t.Setenv("CLAUDE_CONFIG_DIR", "")
	st, err := store.Open(filepath.Join(tmp, "state"))
	if err != nil {
		t.Fatal(err)
	}
	bin := mustMkdir(t, filepath.Join(f.cache, "claude", "1.0.0", "node_modules", ".bin"))
	mustWrite(t, filepath.Join(bin, "claude"), "\x7fELF native")
	f.m = &Manager{Store: st, Backend: f.be, Agents: &AgentSupport{
		Installer: &agent.Installer{Root: f.cache, NPM: "/nonexistent/npm"},
		Volumes:   &volume.Store{Root: filepath.Join(tmp, "state", "volumes")},
	}}
	return f
}

func kinds(ms []backend.Mount) string {
	var k []string
	for _, m := range ms {
		k = append(k, string(m.Kind)+":"+m.Target)
	}
	return strings.Join(k, " ")
}

func TestAgentMountsAtStart(t *testing.T) {
	f := newAgentFixture(t)
	ctx := context.Background()
	o := Options{Agent: "claude", Workspace: f.ws, AgentVersion: "1.0.0", AgentVersionSet: true}
	rec, created, err := f.m.Ensure(ctx, o)
	if err != nil || !created {
		t.Fatalf("Ensure: %v %v", created, err)
	}
	if rec.AgentVersion != "1.0.0" {
		t.Fatalf("pin not recorded: %+v", rec)
	}
	if _, err := f.m.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	spec := f.be.Started[0]
	if got := kinds(spec.Mounts); got != "workspace:"+f.ws+" agent:/paddock/agent volume:/root/.claude" {
		t.Fatalf("mounts at start: %s", got)
	}
	if spec.Mounts[1].Source != filepath.Join(f.cache, "claude", "1.0.0") || !spec.Mounts[1].ReadOnly {
		t.Fatalf("agent mount %+v", spec.Mounts[1])
	}
	if !slices.Contains(spec.AgentEnv, "CLAUDE_CONFIG_DIR=/root/.claude") {
		t.Fatalf("agent env %q", spec.AgentEnv)
	}
	env := backend.WithAgentEnv(spec, []string{"PATH=/usr/bin:/bin", "HOME=/root"})
	if env[0] != "PATH=/paddock/agent/node_modules/.bin:/usr/bin:/bin" {
		t.Fatalf("env %q", env)
	}
	vol := spec.Mounts[2].Source
	if st, err := os.Stat(vol); err != nil || st.Mode().Perm() != 0o700 || !strings.HasSuffix(vol, "paddock-claude-data/claude") {
		t.Fatalf("volume %s: %v %v", vol, st, err)
	}
	// The record keeps them, and running again with the same settings is no drift; neither is a
	// run that changes the user's mounts (the managed ones stay).
	saved, _ := f.m.Store.Resolve(rec.ID)
	if kinds(saved.Spec.Mounts) != kinds(spec.Mounts) {
		t.Fatalf("record mounts %s", kinds(saved.Spec.Mounts))
	}
	if _, _, err := f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws}); err != nil {
		t.Fatalf("reuse: %v", err)
	}
	extra := mustMkdir(t, filepath.Join(filepath.Dir(f.ws), "data"))
	_, _, err = f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, MountsSet: true,
		Volumes: []backend.Mount{{Kind: backend.KindBind, Source: extra, Target: "/data"}}})
	if !errors.Is(err, ErrDrift) || strings.Contains(err.Error(), "paddock/agent") || strings.Contains(err.Error(), ".claude") {
		t.Fatalf("drift: %v", err)
	}
	f.m.Stop(ctx, rec, time.Second)
	rec2, _, err := f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, MountsSet: true, Recreate: true,
		Volumes: []backend.Mount{{Kind: backend.KindBind, Source: extra, Target: "/data"}}})
	if err != nil || !strings.Contains(kinds(rec2.Spec.Mounts), "agent:/paddock/agent") || !strings.Contains(kinds(rec2.Spec.Mounts), "bind:/data") {
		t.Fatalf("recreate: %v %s", err, kinds(rec2.Spec.Mounts))
	}
}

func TestDiffIgnoresManagedMounts(t *testing.T) {
	ws := backend.Mount{Kind: backend.KindWorkspace, Source: "/p", Target: "/p"}
	have := backend.Spec{Mounts: []backend.Mount{ws, {Kind: backend.KindAgent, Source: "/c/claude/1", Target: "/paddock/agent"}}}
	want := backend.Spec{Mounts: []backend.Mount{ws, {Kind: backend.KindVolume, Source: "/v", Target: "/root/.claude"},
		{Kind: backend.KindAgentConfig, Source: "/h/CLAUDE.md", Target: "/root/.claude/CLAUDE.md"}}, AgentEnv: []string{"A=1"}}
	if d := Diff(have, want); len(d) != 0 {
		t.Fatalf("Diff = %q", d)
	}
}

func TestAgentVersionChange(t *testing.T) {
	f := newAgentFixture(t)
	ctx := context.Background()
	rec, _, err := f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentVersion: "1.0.0", AgentVersionSet: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Running: the version it runs is fine; another needs a restart, which paddock says.
	if _, _, err := f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentVersion: "v1.0.0", AgentVersionSet: true}); err != nil {
		t.Fatalf("same version: %v", err)
	}
	_, _, err = f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentVersion: "2.0.0", AgentVersionSet: true})
	if !errors.Is(err, ErrDrift) || !strings.Contains(err.Error(), "agent version: 1.0.0 -> 2.0.0") || !strings.Contains(err.Error(), "--recreate") {
		t.Fatalf("running, other version: %v", err)
	}
	// Stopped: recorded, used at the next start.
	f.m.Stop(ctx, rec, time.Second)
	rec, _, err = f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentVersion: "latest", AgentVersionSet: true})
	if err != nil || rec.AgentVersion != "" {
		t.Fatalf("stopped: %+v %v", rec, err)
	}
}

func TestAgentOptionsBadInput(t *testing.T) {
	f := newAgentFixture(t)
	ctx := context.Background()
	_, _, err := f.m.Ensure(ctx, Options{Agent: "shell", Workspace: f.ws, AgentVersion: "1.0", AgentVersionSet: true})
	checkBadInput(t, err, "--agent-version", "shell")
	_, _, err = f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentVersion: "../x", AgentVersionSet: true})
	checkBadInput(t, err, "../x")
	_, _, err = f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentConfig: "mine", AgentConfigSet: true})
	checkBadInput(t, err, "--agent-config", "host")
	_, _, err = f.m.Ensure(ctx, Options{Agent: "shell", Workspace: f.ws, AgentConfig: "host", AgentConfigSet: true})
	checkBadInput(t, err, "--agent-config")
	if recs, _, _ := f.m.Store.List(); len(recs) != 0 {
		t.Fatalf("left %d sandboxes", len(recs))
	}
}

func TestAgentNeedsNode(t *testing.T) {
	f := newAgentFixture(t)
	ctx := context.Background()
	bin := mustMkdir(t, filepath.Join(f.cache, "claude", "0.9.0", "node_modules", ".bin"))
	mustWrite(t, filepath.Join(bin, "claude"), "#!/usr/bin/env node\n")
	f.m.Agents.HasNode = func(string) bool { return false }
	rec, _, err := f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentVersion: "0.9.0", AgentVersionSet: true})
	if err != nil {
		t.Fatal(err)
	}
	err = f.m.Prepare(ctx, rec)
	checkBadInput(t, err, "Node.js", "install Node.js on the host", "template")
	// A native build of the same agent needs no node.
	rec.AgentVersion = "1.0.0"
	f.m.Store.Save(rec)
	if err := f.m.Prepare(ctx, rec); err != nil {
		t.Fatal(err)
	}
}

func TestAgentConfigHost(t *testing.T) {
	f := newAgentFixture(t)
	ctx := context.Background()
	cfg := mustMkdir(t, filepath.Join(f.home, ".claude"))
	mustWrite(t, filepath.Join(cfg, "CLAUDE.md"), "be nice")
	mustWrite(t, filepath.Join(cfg, "settings.json"), `{"model":"x"}`)
	mustWrite(t, filepath.Join(cfg, ".credentials.json"), "secret")
	mustWrite(t, filepath.Join(cfg, ".claude.json"), "secret")
	mustMkdir(t, filepath.Join(cfg, "commands"))
	rec, _, err := f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentVersion: "1.0.0", AgentVersionSet: true,
		AgentConfig: "host", AgentConfigSet: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.m.Prepare(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range rec.Spec.Mounts {
		if m.Kind == backend.KindAgentConfig {
			if !m.ReadOnly {
				t.Errorf("%s is writable", m.Target)
			}
			got = append(got, m.Target)
		}
	}
	if strings.Join(got, " ") != "/root/.claude/CLAUDE.md /root/.claude/settings.json /root/.claude/commands" {
		t.Fatalf("host config mounts: %q", got)
	}
	// The settings file mounted over is a valid settings object in the volume (paddock's
	// seeded one).
	vol := filepath.Join(filepath.Dir(f.cache), "volumes", "paddock-claude-data", "claude")
	var obj map[string]any
	if b, err := os.ReadFile(filepath.Join(vol, "settings.json")); err != nil || json.Unmarshal(b, &obj) != nil {
		t.Fatalf("placeholder: %q %v", b, err)
	}
	// --agent-config none on the stopped sandbox drops them at the next start.
	rec, _, err = f.m.Ensure(ctx, Options{Agent: "claude", Workspace: f.ws, AgentConfig: "none", AgentConfigSet: true})
	if err != nil || rec.AgentConfig != "" {
		t.Fatalf("none: %+v %v", rec, err)
	}
	f.m.Prepare(ctx, rec)
	if strings.Contains(kinds(rec.Spec.Mounts), "agent-config") {
		t.Fatalf("still there: %s", kinds(rec.Spec.Mounts))
	}
}
