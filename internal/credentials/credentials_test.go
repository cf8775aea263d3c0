package credentials

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/agent"
)

func TestStore(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "secrets"))
	if names, err := s.List(); err != nil || len(names) != 0 {
		t.Fatalf("empty store lists %q, %v", names, err)
	}
	if err := s.Set("anthropic", "sk-ant-1\n"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("anthropic", "  sk-ant-2 \n"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("anthropic"); err != nil || v != "sk-ant-2" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	st, _ := os.Stat(s.Dir)
	fst, _ := os.Stat(filepath.Join(s.Dir, "anthropic"))
	if st.Mode().Perm() != 0o700 || fst.Mode().Perm() != 0o600 {
		t.Fatalf("modes %v %v, want 0700 and 0600", st.Mode(), fst.Mode())
	}
	entries, _ := os.ReadDir(s.Dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := s.Set("github", "ghp_x"); err != nil {
		t.Fatal(err)
	}
	if names, _ := s.List(); !slices.Equal(names, []string{"anthropic", "github"}) {
		t.Fatalf("List = %q", names)
	}
	if err := s.Remove("github"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("github"); !errors.Is(err, ErrNotSet) {
		t.Fatalf("second Remove: %v", err)
	}
	if _, err := s.Get("openai"); !errors.Is(err, ErrNotSet) {
		t.Fatalf("Get of an unset secret: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	s := Open(t.TempDir())
	err := s.Set("aws", "x")
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "anthropic, github, google, openai") {
		t.Fatalf("unknown name: %v", err)
	}
	if err := s.Set("openai", " \n"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty value: %v", err)
	}
	if err := s.Set("openai", "a\nb"); err == nil || strings.Contains(err.Error(), "a\nb") {
		t.Fatalf("multi-line value: %v", err)
	}
}

// The agent gets exactly its own keys, in its variables, through Grant: placeholders that the
// egress proxy replaces, never the keys.
func TestAgentEnv(t *testing.T) {
	s := Open(t.TempDir())
	s.Set("anthropic", "sk-ant")
	s.Set("openai", "sk-oai")
	claude, _ := agent.Lookup("claude")
	env, err := s.AgentEnv("id", claude)
	if err != nil || len(env) != 0 {
		t.Fatalf("claude env = %q, %v (its apiKeyHelper gives it the key)", env, err)
	}
	opencode, _ := agent.Lookup("opencode")
	if env, _ := s.AgentEnv("id", opencode); !slices.Equal(env, []string{"ANTHROPIC_API_KEY=paddock-placeholder-anthropic", "OPENAI_API_KEY=paddock-placeholder-openai"}) {
		t.Fatalf("opencode env = %q", env)
	}
	codex, _ := agent.Lookup("codex")
	if env, _ := s.AgentEnv("id", codex); !slices.Equal(env, []string{"OPENAI_API_KEY=paddock-placeholder-openai"}) {
		t.Fatalf("codex env = %q", env)
	}
	shell, _ := agent.Lookup("shell")
	if env, _ := s.AgentEnv("id", shell); len(env) != 0 {
		t.Fatalf("shell env = %q", env)
	}
	agents, vars := UsedBy("anthropic")
	if !slices.Equal(agents, []string{"claude", "opencode"}) || !slices.Equal(vars, []string{"ANTHROPIC_API_KEY"}) {
		t.Fatalf("UsedBy = %q %q", agents, vars)
	}
}
