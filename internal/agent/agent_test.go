package agent

import (
	"slices"
	"strings"
	"testing"
)

func TestShellCommand(t *testing.T) {
	tests := []struct {
		name    string
		hasBash bool
		args    []string
		want    []string
	}{
		{"bash", true, nil, []string{"/bin/bash", "-l"}},
		{"bash with command", true, []string{"-c", "npm test"}, []string{"/bin/bash", "-l", "-c", "npm test"}},
		{"no bash", false, []string{"-c", "true"}, []string{"/bin/sh", "-l", "-c", "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Lookup("shell")
			if err != nil {
				t.Fatal(err)
			}
			got := a.Command(tt.args, func(p string) bool { return tt.hasBash && p == "/bin/bash" })
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnknownAgent(t *testing.T) {
	want := `unknown agent "nope": choose one of claude, codex, gemini, opencode, shell`
	if _, err := Lookup("nope"); err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// The npm agents: their default flags come first, then the user's arguments untouched (spaces,
// quotes, a leading dash).
func TestNPMAgentCommands(t *testing.T) {
	args := []string{"-p", `fix the "tests" now`, "--", "it's"}
	tests := []struct {
		agent, pkg, bin string
		flags           []string
	}{
		{"claude", "@anthropic-ai/claude-code", "claude", []string{"--dangerously-skip-permissions"}},
		{"gemini", "@google/gemini-cli", "gemini", []string{"--yolo"}},
		{"codex", "@openai/codex", "codex", []string{"--dangerously-bypass-approvals-and-sandbox"}},
		{"opencode", "opencode-ai", "opencode", nil},
	}
	for _, tt := range tests {
		t.Run(tt.agent, func(t *testing.T) {
			a, err := Lookup(tt.agent)
			if err != nil {
				t.Fatal(err)
			}
			info := a.Info()
			if info.Package != tt.pkg || info.Bin != tt.bin {
				t.Fatalf("package %s bin %s, want %s %s", info.Package, info.Bin, tt.pkg, tt.bin)
			}
			want := append(append([]string{"/paddock/agent/node_modules/.bin/" + tt.bin}, tt.flags...), args...)
			if got := a.Command(args, nil); !slices.Equal(got, want) {
				t.Fatalf("Command = %q, want %q", got, want)
			}
			if len(info.ConfigDirs) == 0 || len(info.Keys) == 0 {
				t.Fatalf("no config folders or keys: %+v", info)
			}
			for _, d := range info.ConfigDirs {
				if !strings.HasPrefix(d, Home+"/.") {
					t.Errorf("config folder %s is not a dot folder of the sandbox home", d)
				}
			}
			for _, k := range info.Keys {
				if !slices.Contains([]string{"anthropic", "openai", "google", "github"}, k.Secret) || k.Env == "" && k.Helper == "" {
					t.Errorf("key %+v", k)
				}
			}
			if hc := info.HostConfig; hc != nil {
				for _, item := range hc.Items {
					if strings.Contains(item, "credentials") || item == ".claude.json" || item == "auth.json" || item == "oauth_creds.json" {
						t.Errorf("host config shares credentials: %s", item)
					}
				}
			}
		})
	}
}

// Claude keeps .claude.json in its config folder (so in the volume) and may skip permission
// prompts as root; Codex is told where its home is.
func TestAgentEnv(t *testing.T) {
	c, _ := Lookup("claude")
	for _, kv := range []string{"CLAUDE_CONFIG_DIR=/root/.claude", "IS_SANDBOX=1"} {
		if !slices.Contains(c.Info().Env, kv) {
			t.Errorf("claude env lacks %s: %q", kv, c.Info().Env)
		}
	}
	x, _ := Lookup("codex")
	if !slices.Contains(x.Info().Env, "CODEX_HOME=/root/.codex") {
		t.Errorf("codex env: %q", x.Info().Env)
	}
}

func TestVolumeSubdir(t *testing.T) {
	for in, want := range map[string]string{
		"/root/.claude": "claude", "/root/.config/opencode": "config-opencode",
		"/root/.local/share/opencode": "local-share-opencode", "/root/.codex/": "codex",
	} {
		if got := VolumeSubdir(in); got != want {
			t.Errorf("VolumeSubdir(%s) = %s, want %s", in, got, want)
		}
	}
	if VolumeName("claude") != "paddock-claude-data" {
		t.Fatal(VolumeName("claude"))
	}
}

func TestCompareVersions(t *testing.T) {
	sorted := []string{"0.9.0", "1.0.0-alpha", "1.0.0-alpha.2", "1.0.0-beta", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.1.197", "2.1.332", "10.0.0"}
	for i := range sorted {
		for j := range sorted {
			got := CompareVersions(sorted[i], sorted[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("CompareVersions(%s, %s) = %d, want %d", sorted[i], sorted[j], got, want)
			}
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for _, ok := range []string{"", "1.2.3", "v1.2.3", "latest", "next", "1.0.0-beta.1", "^2.1", ">=1.0 <2"} {
		if err := CheckVersion(ok); err != nil {
			t.Errorf("CheckVersion(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"../../etc", "1.2.3/../x", "-rf", "a;b", "$(x)", strings.Repeat("1", 80)} {
		if err := CheckVersion(bad); err == nil {
			t.Errorf("CheckVersion(%q) accepted", bad)
		}
	}
}
