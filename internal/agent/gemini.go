package agent

// Gemini CLI. It needs its auth type chosen in settings.json before it uses GEMINI_API_KEY, and
// the workspace in trustedFolders.json before it runs headless.
func init() {
	register(npmAgent{name: "gemini", info: Info{
		Package:    "@google/gemini-cli",
		Bin:        "gemini",
		Flags:      []string{"--yolo"},
		Login:      &Login{Secrets: []string{"google"}, Files: []string{"/root/.gemini/oauth_creds.json"}, How: "choose Login with Google inside (kept in the paddock-gemini-data volume)"},
		ConfigDirs: []string{"/root/.gemini"},
		Env:        []string{},
		Keys: []Key{{Secret: "google", Env: "GEMINI_API_KEY", BaseURLEnv: "GOOGLE_GEMINI_BASE_URL"},
			{Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".gemini", Target: "/root/.gemini",
			Items: []string{"GEMINI.md", "settings.json", "commands"}},
	}, seed: seedGemini})
}

func seedGemini(c SeedContext) error {
	dir := c.Dirs["/root/.gemini"]
	err := MergeJSON(dir, "settings.json", map[string]any{
		"security":  map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}},
		"privacy":   map[string]any{"usageStatisticsEnabled": false},
		"telemetry": map[string]any{"enabled": false},
		"general":   map[string]any{"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
		"ide":       map[string]any{"hasSeenNudge": true},
	})
	if err != nil {
		return err
	}
	trusted := map[string]any{}
	for _, ws := range c.Workspaces {
		trusted[ws] = "TRUST_FOLDER"
	}
	return MergeJSON(dir, "trustedFolders.json", trusted)
}
