package agent

// Codex CLI. CODEX_HOME names its config folder explicitly.
func init() {
	register(npmAgent{name: "codex", info: Info{
		Package:    "@openai/codex",
		Bin:        "codex",
		Flags:      []string{"--dangerously-bypass-approvals-and-sandbox"},
		ConfigDirs: []string{"/root/.codex"},
		Env:        []string{"CODEX_HOME=/root/.codex"},
		Keys:       []Key{{Secret: "openai", Env: "OPENAI_API_KEY"}, {Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".codex", DirEnv: "CODEX_HOME", Target: "/root/.codex",
			Items: []string{"AGENTS.md", "config.toml", "prompts"}},
	}})
}
