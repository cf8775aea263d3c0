package agent

// OpenCode: config in ~/.config/opencode, logins and sessions in ~/.local/share/opencode. It
// talks to several providers, so it gets every model key that is set.
func init() {
	register(npmAgent{name: "opencode", info: Info{
		Package:    "opencode-ai",
		Bin:        "opencode",
		Flags:      []string{},
		Login:      &Login{Secrets: []string{"anthropic", "openai", "google"}, Files: []string{"/root/.local/share/opencode/auth.json"}, How: "sign in inside with `opencode auth login` (kept in the paddock-opencode-data volume)"},
		ConfigDirs: []string{"/root/.config/opencode", "/root/.local/share/opencode"},
		Env:        []string{},
		Keys: []Key{{Secret: "anthropic", Env: "ANTHROPIC_API_KEY"}, {Secret: "openai", Env: "OPENAI_API_KEY"},
			{Secret: "google", Env: "GOOGLE_GENERATIVE_AI_API_KEY"}, {Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".config/opencode", DirEnv: "", Target: "/root/.config/opencode",
			Items: []string{"AGENTS.md", "opencode.json", "opencode.jsonc", "agent", "command"}},
	}, seed: seedOpenCode})
}

// seedOpenCode turns off its self-update and session sharing (an upload to opencode's servers).
func seedOpenCode(c SeedContext) error {
	dir := c.Dirs["/root/.config/opencode"]
	if fileExists(dir, "opencode.jsonc") {
		return nil // the user's own config, in the form JSON with comments: theirs alone
	}
	return MergeJSON(dir, "opencode.json", map[string]any{
		"$schema": "https://opencode.ai/config.json", "autoupdate": false, "share": "disabled"})
}
