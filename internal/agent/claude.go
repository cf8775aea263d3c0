package agent

import (
	"encoding/json"
)

// Claude Code. CLAUDE_CONFIG_DIR puts its .claude.json (onboarding, trusted projects) inside the
// config folder, so all of its state lives in the volume. IS_SANDBOX lets it skip permission
// prompts as root, which it refuses otherwise; the updater cannot write the read-only install,
// and nothing non-essential (telemetry, error reports, update checks, the plugin marketplace)
// leaves the sandbox.
//
// Its key comes from an apiKeyHelper that prints the placeholder, never from ANTHROPIC_API_KEY:
// with both set, Claude Code warns of an auth conflict, and a key in the environment must be
// approved in a dialog first.
func init() {
	register(npmAgent{name: "claude", info: Info{
		Package:    "@anthropic-ai/claude-code",
		Bin:        "claude",
		Flags:      []string{"--dangerously-skip-permissions"},
		Login:      &Login{Secrets: []string{"anthropic"}, Files: []string{"/root/.claude/.credentials.json"}, How: "log in inside with /login (a Claude subscription; kept in the paddock-claude-data volume)"},
		ConfigDirs: []string{"/root/.claude"},
		Env: []string{"CLAUDE_CONFIG_DIR=/root/.claude", "IS_SANDBOX=1", "DISABLE_AUTOUPDATER=1",
			"DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
			"CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1", "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY=1",
			"DISABLE_INSTALLATION_CHECKS=1"},
		Keys: []Key{{Secret: "anthropic", Helper: "apiKeyHelper", BaseURLEnv: "ANTHROPIC_BASE_URL"},
			{Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".claude", DirEnv: "CLAUDE_CONFIG_DIR", Target: "/root/.claude",
			Items: []string{"CLAUDE.md", "settings.json", "commands", "skills", "agents"}},
	}, seed: seedClaude, overHostConfig: claudeOverHostConfig})
}

// claudeSettings are the settings paddock needs Claude Code to have.
func claudeSettings(placeholder func(string) string) map[string]any {
	return map[string]any{
		"skipDangerousModePermissionPrompt": true,
		"apiKeyHelper":                      "echo " + placeholder("anthropic"),
	}
}

// claudeOverHostConfig: with --agent-config host the user's own settings.json is shown instead of
// the seeded one, so the settings paddock needs come as --settings (which Claude Code layers over
// the user's file).
func claudeOverHostConfig(placeholder func(string) string, items []string) []string {
	for _, it := range items {
		if it == "settings.json" {
			b, _ := json.Marshal(claudeSettings(placeholder))
			return []string{"--settings", string(b)}
		}
	}
	return nil
}

// seedClaude: .claude.json says onboarding is done and each workspace is trusted; settings.json
// accepts the bypass mode and names the key helper.
func seedClaude(c SeedContext) error {
	dir := c.Dirs["/root/.claude"]
	projects := map[string]any{}
	for _, ws := range c.Workspaces {
		projects[ws] = map[string]any{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true}
	}
	err := MergeJSON(dir, ".claude.json", map[string]any{
		"hasCompletedOnboarding":        true,
		"theme":                         "dark",
		"bypassPermissionsModeAccepted": true,
		"autoUpdates":                   false,
		"projects":                      projects,
	})
	if err != nil {
		return err
	}
	// With --agent-config host the user's own settings.json is shown over this one, as it is.
	return MergeJSON(dir, "settings.json", claudeSettings(c.Placeholder))
}
