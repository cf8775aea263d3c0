package agent

// Claude Code. CLAUDE_CONFIG_DIR puts its .claude.json (login, approved keys) inside the config
// folder, so all of its state lives in the volume. IS_SANDBOX lets it skip permission prompts
// as root, which it refuses otherwise; the updater cannot write the read-only install.
func init() {
	register(npmAgent{name: "claude", info: Info{
		Package:    "@anthropic-ai/claude-code",
		Bin:        "claude",
		Flags:      []string{"--dangerously-skip-permissions"},
		ConfigDirs: []string{"/root/.claude"},
		Env:        []string{"CLAUDE_CONFIG_DIR=/root/.claude", "IS_SANDBOX=1", "DISABLE_AUTOUPDATER=1"},
		Keys:       []Key{{Secret: "anthropic", Env: "ANTHROPIC_API_KEY"}, {Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".claude", DirEnv: "CLAUDE_CONFIG_DIR", Target: "/root/.claude",
			Items: []string{"CLAUDE.md", "settings.json", "commands", "skills", "agents"}},
	}})
}
