package agent

import (
	"encoding/json"
)

// Codex CLI. CODEX_HOME names its config folder explicitly. Codex reads its API key from
// auth.json (what `codex login --with-api-key` writes), not from OPENAI_API_KEY, and its endpoint
// from the openai_base_url setting, not from OPENAI_BASE_URL.
func init() {
	register(npmAgent{name: "codex", info: Info{
		Package:    "@openai/codex",
		Bin:        "codex",
		Flags:      []string{"--dangerously-bypass-approvals-and-sandbox"},
		Login:      &Login{Secrets: []string{"openai"}, Files: []string{"/root/.codex/auth.json"}, How: "sign in inside with `codex login --device-auth` (ChatGPT; kept in the paddock-codex-data volume)"},
		ConfigDirs: []string{"/root/.codex"},
		Env:        []string{"CODEX_HOME=/root/.codex"},
		Keys: []Key{{Secret: "openai", Env: "OPENAI_API_KEY", Helper: "auth.json",
			BaseURLArgs: []string{"-c", `openai_base_url="%s"`}},
			{Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".codex", DirEnv: "CODEX_HOME", Target: "/root/.codex",
			Items: []string{"AGENTS.md", "config.toml", "prompts"}},
	}, seed: seedCodex})
}

// seedCodex: auth.json logs in with the placeholder key (unless the user logged in otherwise);
// config.toml trusts each workspace and turns off the update check and analytics.
func seedCodex(c SeedContext) error {
	dir := c.Dirs["/root/.codex"]
	auth, _ := json.MarshalIndent(map[string]any{"auth_mode": "apikey", "OPENAI_API_KEY": c.Placeholder("openai")}, "", "  ")
	if err := WriteIfMissing(dir, "auth.json", append(auth, '\n')); err != nil {
		return err
	}
	tables := []TOMLTable{
		{Keys: map[string]any{"check_for_update_on_startup": false}},
		{Path: []string{"analytics"}, Keys: map[string]any{"enabled": false}},
	}
	for _, ws := range c.Workspaces {
		tables = append(tables, TOMLTable{Path: []string{"projects", ws}, Keys: map[string]any{"trust_level": "trusted"}})
	}
	return MergeTOML(dir, "config.toml", tables)
}
