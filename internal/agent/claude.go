package agent

import "path/filepath"

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
		ConfigDirs: []string{"/root/.claude"},
		Env: []string{"CLAUDE_CONFIG_DIR=/root/.claude", "IS_SANDBOX=1", "DISABLE_AUTOUPDATER=1",
			"DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
			"CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1", "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY=1",
			"DISABLE_INSTALLATION_CHECKS=1"},
		Keys: []Key{{Secret: "anthropic", Helper: "apiKeyHelper", BaseURLEnv: "ANTHROPIC_BASE_URL"},
			{Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".claude", DirEnv: "CLAUDE_CONFIG_DIR", Target: "/root/.claude",
			Items: []string{"CLAUDE.md", "settings.json", "commands", "skills", "agents"}},
	}, seed: seedClaude})
}

// seedClaude: .claude.json says onboarding is done and each workspace is trusted; settings.json
// accepts the bypass mode and names the key helper.
func seedClaude(c SeedContext) error {
	dir := c.Dirs["/root/.claude"]
	projects := map[string]any{}
	for _, ws := range c.Workspaces {
		projects[ws] = map[string]any{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true}
	}
	err := MergeJSON(filepath.Join(dir, ".claude.json"), map[string]any{
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
	return MergeJSON(filepath.Join(dir, "settings.json"), map[string]any{
		"skipDangerousModePermissionPrompt": true,
		"apiKeyHelper":                      "echo " + c.Placeholder("anthropic"),
	})
}
