package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

func readJSON(t *testing.T, p string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", p, err, b)
	}
	return m
}

func TestMergeJSON(t *testing.T) {
	defaults := map[string]any{"a": true, "theme": "dark", "projects": map[string]any{"/w": map[string]any{"trusted": true}}}
	cases := []struct {
		name, before string
		want         string // the file after, compacted
		err          bool
	}{
		{"missing", "", `{"a":true,"projects":{"/w":{"trusted":true}},"theme":"dark"}`, false},
		{"empty object", "{}", `{"a":true,"projects":{"/w":{"trusted":true}},"theme":"dark"}`, false},
		{"user values win and keep their order", `{"zeta":1,"theme":"light","a":false}`,
			`{"zeta":1,"theme":"light","a":false,"projects":{"/w":{"trusted":true}}}`, false},
		{"into nested objects", `{"projects":{"/other":{"x":1},"/w":{"trusted":false,"n":2}}}`,
			`{"projects":{"/other":{"x":1},"/w":{"trusted":false,"n":2}},"a":true,"theme":"dark"}`, false},
		{"a value of another type stands", `{"projects":"none"}`, `{"projects":"none","a":true,"theme":"dark"}`, false},
		{"big numbers kept exactly", `{"n":12345678901234567890,"f":1.50}`,
			`{"n":12345678901234567890,"f":1.50,"a":true,"projects":{"/w":{"trusted":true}},"theme":"dark"}`, false},
		{"not an object", `[1,2]`, `[1,2]`, true},
		{"broken", `{"a":`, `{"a":`, true},
		{"trailing garbage", `{} {}`, `{} {}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "s.json")
			if c.before != "" {
				os.WriteFile(p, []byte(c.before), 0o644)
			}
			err := MergeJSON(filepath.Dir(p), filepath.Base(p), defaults)
			if c.err != (err != nil) || (err != nil && !errors.Is(err, ErrNotObject)) {
				t.Fatalf("err = %v", err)
			}
			b, _ := os.ReadFile(p)
			got := string(b)
			if !c.err {
				var buf bytes.Buffer
				json.Compact(&buf, b)
				got = buf.String()
				if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
					t.Errorf("mode %v", st.Mode())
				}
			}
			if got != c.want {
				t.Fatalf("after merge:\n got %s\nwant %s", got, c.want)
			}
		})
	}
	// Nothing to add: the file is not rewritten.
	p := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(p, []byte(`{"a": 1, "theme": 2, "projects": {"/w": {"trusted": 3}}}`), 0o644)
	if err := MergeJSON(filepath.Dir(p), filepath.Base(p), defaults); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Fatalf("an unchanged file was rewritten")
	}
}

func TestMergeTOML(t *testing.T) {
	tables := []TOMLTable{
		{Keys: map[string]any{"check_for_update_on_startup": false}},
		{Path: []string{"analytics"}, Keys: map[string]any{"enabled": false}},
		{Path: []string{"projects", "/work/my proj"}, Keys: map[string]any{"trust_level": "trusted"}},
	}
	cases := []struct {
		name, before string
		check        func(t *testing.T, doc map[string]any, text string)
		err          bool
	}{
		{"missing", "", func(t *testing.T, doc map[string]any, _ string) {
			if doc["check_for_update_on_startup"] != false || doc["analytics"].(map[string]any)["enabled"] != false ||
				doc["projects"].(map[string]any)["/work/my proj"].(map[string]any)["trust_level"] != "trusted" {
				t.Fatalf("%v", doc)
			}
		}, false},
		{"user's values, comments and tables kept", "# mine\nmodel = \"o3\"\ncheck_for_update_on_startup = true\n\n[analytics]\n# keep\nother = 1\n\n[projects.\"/work/my proj\"]\ntrust_level = \"untrusted\"\n",
			func(t *testing.T, doc map[string]any, text string) {
				if doc["check_for_update_on_startup"] != true || doc["model"] != "o3" {
					t.Fatalf("%v", doc)
				}
				a := doc["analytics"].(map[string]any)
				if a["enabled"] != false || a["other"] != int64(1) {
					t.Fatalf("analytics: %v", a)
				}
				if doc["projects"].(map[string]any)["/work/my proj"].(map[string]any)["trust_level"] != "untrusted" {
					t.Fatalf("the user's trust level was changed: %s", text)
				}
				if !strings.Contains(text, "# mine\n") || !strings.Contains(text, "# keep\n") {
					t.Fatalf("comments lost: %s", text)
				}
			}, false},
		{"inline table left alone", "analytics = { other = 1 }\n", func(t *testing.T, doc map[string]any, text string) {
			if _, ok := doc["analytics"].(map[string]any)["enabled"]; ok {
				t.Fatalf("changed the user's inline table: %s", text)
			}
		}, false},
		{"a value where a table would go", "analytics = false\n", func(t *testing.T, doc map[string]any, text string) {
			if doc["analytics"] != false {
				t.Fatalf("%s", text)
			}
		}, false},
		{"no final newline", "[analytics]\nother = 1", func(t *testing.T, doc map[string]any, text string) {
			if doc["analytics"].(map[string]any)["other"] != int64(1) || doc["projects"] == nil {
				t.Fatalf("%s", text)
			}
		}, false},
		{"broken", "[analytics\n", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.toml")
			if c.before != "" {
				os.WriteFile(p, []byte(c.before), 0o644)
			}
			err := MergeTOML(filepath.Dir(p), filepath.Base(p), tables)
			b, _ := os.ReadFile(p)
			if c.err {
				if !errors.Is(err, ErrNotObject) || string(b) != c.before {
					t.Fatalf("err = %v, file %q", err, b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := toml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("result does not parse: %v\n%s", err, b)
			}
			c.check(t, doc, string(b))
			// Merging again changes nothing.
			if err := MergeTOML(filepath.Dir(p), filepath.Base(p), tables); err != nil {
				t.Fatal(err)
			}
			if b2, _ := os.ReadFile(p); string(b2) != string(b) {
				t.Fatalf("second merge changed the file:\n%s\n---\n%s", b, b2)
			}
		})
	}
}

// seedDirs makes a volume folder per config folder of an agent.
func seedDirs(t *testing.T, a Agent) SeedContext {
	c := SeedContext{Dirs: map[string]string{}, Workspaces: []string{"/work/proj", "/work/two"},
		Placeholder: func(s string) string { return "paddock-placeholder-" + s }}
	root := t.TempDir()
	for _, d := range a.Info().ConfigDirs {
		p := filepath.Join(root, VolumeSubdir(d))
		os.Mkdir(p, 0o700)
		c.Dirs[d] = p
	}
	return c
}

// TestSeedAgents: each agent's first-run answers are written, and a user's own later changes
// survive the next start's seeding.
func TestSeedAgents(t *testing.T) {
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, p := range path {
			mm, _ := v.(map[string]any)
			v = mm[p]
		}
		return v
	}
	t.Run("claude", func(t *testing.T) {
		a, _ := Lookup("claude")
		c := seedDirs(t, a)
		if err := Seed(a, c); err != nil {
			t.Fatal(err)
		}
		dir := c.Dirs["/root/.claude"]
		cj := readJSON(t, filepath.Join(dir, ".claude.json"))
		if get(cj, "hasCompletedOnboarding") != true || get(cj, "projects", "/work/two", "hasTrustDialogAccepted") != true {
			t.Fatalf(".claude.json: %v", cj)
		}
		st := readJSON(t, filepath.Join(dir, "settings.json"))
		if st["apiKeyHelper"] != "echo paddock-placeholder-anthropic" || st["skipDangerousModePermissionPrompt"] != true {
			t.Fatalf("settings.json: %v", st)
		}
		// The user changes things inside the sandbox (and Claude Code adds its own state).
		st["apiKeyHelper"], st["model"] = "/root/bin/my-helper", "opus"
		b, _ := json.Marshal(st)
		os.WriteFile(filepath.Join(dir, "settings.json"), b, 0o600)
		cj["theme"], cj["numStartups"] = "light", 7
		get(cj, "projects", "/work/proj").(map[string]any)["hasTrustDialogAccepted"] = false
		b, _ = json.Marshal(cj)
		os.WriteFile(filepath.Join(dir, ".claude.json"), b, 0o600)
		c.Workspaces = append(c.Workspaces, "/work/three")
		if err := Seed(a, c); err != nil {
			t.Fatal(err)
		}
		st = readJSON(t, filepath.Join(dir, "settings.json"))
		cj = readJSON(t, filepath.Join(dir, ".claude.json"))
		if st["apiKeyHelper"] != "/root/bin/my-helper" || st["model"] != "opus" || cj["theme"] != "light" ||
			cj["numStartups"] != float64(7) || get(cj, "projects", "/work/proj", "hasTrustDialogAccepted") != false ||
			get(cj, "projects", "/work/three", "hasTrustDialogAccepted") != true {
			t.Fatalf("user changes lost or new workspace missing:\n%v\n%v", st, cj)
		}
	})
	t.Run("codex", func(t *testing.T) {
		a, _ := Lookup("codex")
		c := seedDirs(t, a)
		if err := Seed(a, c); err != nil {
			t.Fatal(err)
		}
		dir := c.Dirs["/root/.codex"]
		auth := readJSON(t, filepath.Join(dir, "auth.json"))
		if auth["auth_mode"] != "apikey" || auth["OPENAI_API_KEY"] != "paddock-placeholder-openai" {
			t.Fatalf("auth.json: %v", auth)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "config.toml"))
		var doc map[string]any
		if err := toml.Unmarshal(b, &doc); err != nil || get(doc, "projects", "/work/proj", "trust_level") != "trusted" ||
			doc["check_for_update_on_startup"] != false {
			t.Fatalf("config.toml (%v):\n%s", err, b)
		}
		// A ChatGPT login and the user's own settings stay.
		os.WriteFile(filepath.Join(dir, "auth.json"), []byte(`{"auth_mode":"chatgpt"}`), 0o600)
		os.WriteFile(filepath.Join(dir, "config.toml"), append([]byte("model = \"o4\"\n"), b...), 0o600)
		if err := Seed(a, c); err != nil {
			t.Fatal(err)
		}
		if auth := readJSON(t, filepath.Join(dir, "auth.json")); auth["auth_mode"] != "chatgpt" {
			t.Fatalf("auth.json overwritten: %v", auth)
		}
		if b2, _ := os.ReadFile(filepath.Join(dir, "config.toml")); !strings.HasPrefix(string(b2), "model = \"o4\"\n") {
			t.Fatalf("config.toml: %s", b2)
		}
	})
	t.Run("gemini", func(t *testing.T) {
		a, _ := Lookup("gemini")
		c := seedDirs(t, a)
		dir := c.Dirs["/root/.gemini"]
		os.WriteFile(filepath.Join(dir, "settings.json"), []byte(`{"privacy":{"usageStatisticsEnabled":true},"ui":{"theme":"GitHub"}}`), 0o600)
		if err := Seed(a, c); err != nil {
			t.Fatal(err)
		}
		st := readJSON(t, filepath.Join(dir, "settings.json"))
		if get(st, "security", "auth", "selectedType") != "gemini-api-key" || get(st, "privacy", "usageStatisticsEnabled") != true ||
			get(st, "ui", "theme") != "GitHub" || get(st, "telemetry", "enabled") != false {
			t.Fatalf("settings.json: %v", st)
		}
		if tf := readJSON(t, filepath.Join(dir, "trustedFolders.json")); tf["/work/proj"] != "TRUST_FOLDER" {
			t.Fatalf("trustedFolders.json: %v", tf)
		}
	})
	t.Run("opencode", func(t *testing.T) {
		a, _ := Lookup("opencode")
		c := seedDirs(t, a)
		if err := Seed(a, c); err != nil {
			t.Fatal(err)
		}
		if oc := readJSON(t, filepath.Join(c.Dirs["/root/.config/opencode"], "opencode.json")); oc["autoupdate"] != false {
			t.Fatalf("opencode.json: %v", oc)
		}
	})
	t.Run("a broken file is left alone", func(t *testing.T) {
		a, _ := Lookup("gemini")
		c := seedDirs(t, a)
		p := filepath.Join(c.Dirs["/root/.gemini"], "settings.json")
		os.WriteFile(p, []byte("{oops"), 0o600)
		if err := Seed(a, c); !errors.Is(err, ErrNotObject) {
			t.Fatalf("err = %v", err)
		}
		if b, _ := os.ReadFile(p); string(b) != "{oops" {
			t.Fatalf("file changed: %s", b)
		}
	})
}

// TestSeedHostileVolume: the config volume is written by sandboxes. A settings file made a link
// to a host file (or a FIFO, or something endless) is never followed, read or waited on: the
// host file stays unread and unchanged, and nothing of it lands in the volume.
func TestSeedHostileVolume(t *testing.T) {
	base := t.TempDir()
	host := filepath.Join(base, "host-config.json")
	secret := `{"auths":{"registry":{"auth":"SECRET-TOKEN"}}}`
	os.WriteFile(host, []byte(secret), 0o600)
	for _, tc := range []struct {
		name  string
		plant func(vol string)
	}{
		{"link to a host file", func(vol string) { os.Symlink(host, filepath.Join(vol, "settings.json")) }},
		{"relative link out", func(vol string) { os.Symlink("../host-config.json", filepath.Join(vol, "settings.json")) }},
		{"fifo", func(vol string) { syscall.Mkfifo(filepath.Join(vol, "settings.json"), 0o644) }},
		{"device", func(vol string) { os.Symlink("/dev/zero", filepath.Join(vol, "settings.json")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vol := filepath.Join(t.TempDir(), "vol")
			os.Mkdir(vol, 0o700)
			tc.plant(vol)
			done := make(chan error, 1)
			go func() { done <- MergeJSON(vol, "settings.json", map[string]any{"a": true}) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("merged into a planted settings file: want an error")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("blocked on a planted settings file")
			}
			if b, _ := os.ReadFile(host); string(b) != secret {
				t.Fatalf("the host file changed: %q", b)
			}
			filepath.WalkDir(vol, func(p string, d fs.DirEntry, err error) error {
				if d != nil && d.Type().IsRegular() {
					if b, _ := os.ReadFile(p); strings.Contains(string(b), "SECRET") {
						t.Errorf("LEAK: the host file's content landed in the volume: %s", p)
					}
				}
				return nil
			})
		})
	}
	// The same for TOML (Codex's config.toml) and for WriteIfMissing (Codex's auth.json).
	vol := filepath.Join(t.TempDir(), "vol")
	os.Mkdir(vol, 0o700)
	os.Symlink(host, filepath.Join(vol, "config.toml"))
	if err := MergeTOML(vol, "config.toml", []TOMLTable{{Keys: map[string]any{"x": true}}}); err == nil {
		t.Fatal("MergeTOML through a link: want an error")
	}
	os.Symlink(filepath.Join(base, "planted-auth.json"), filepath.Join(vol, "auth.json"))
	if err := WriteIfMissing(vol, "auth.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(base, "planted-auth.json")); err == nil {
		t.Fatal("WriteIfMissing wrote through a dangling link")
	}
	if b, _ := os.ReadFile(host); string(b) != secret {
		t.Fatalf("the host file changed: %q", b)
	}
}
