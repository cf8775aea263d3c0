package agent

// Gemini CLI.
func init() {
	register(npmAgent{name: "gemini", info: Info{
		Package:    "@google/gemini-cli",
		Bin:        "gemini",
		Flags:      []string{"--yolo"},
		ConfigDirs: []string{"/root/.gemini"},
		Env:        []string{},
		Keys:       []Key{{Secret: "google", Env: "GEMINI_API_KEY"}, {Secret: "github", Env: "GH_TOKEN"}},
		HostConfig: &HostConfig{Dir: ".gemini", Target: "/root/.gemini",
			Items: []string{"GEMINI.md", "settings.json", "commands"}},
	}})
}
