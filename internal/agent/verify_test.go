package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLockPackages(t *testing.T) {
	dir := t.TempDir()
	lock := `{"packages": {
		"": {"dependencies": {"@a/agent": "1.0.0"}},
		"node_modules/@a/agent": {"version": "1.0.0", "integrity": "sha512-top"},
		"node_modules/dep": {"version": "2.0.0", "integrity": "sha512-dep"},
		"node_modules/@a/agent/node_modules/dep": {"version": "2.0.0", "integrity": "sha512-dep"},
		"node_modules/alias": {"name": "real", "version": "3.0.0", "integrity": "sha512-real"},
		"node_modules/bundled": {"version": "1.0.0", "inBundle": true},
		"node_modules/linked": {"link": true}
	}}`
	os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(lock), 0o644)
	top, deps, err := lockPackages(dir, "@a/agent")
	if err != nil || top.Name != "@a/agent" || top.Integrity != "sha512-top" {
		t.Fatalf("top %+v %v", top, err)
	}
	if len(deps) != 2 || deps[0].Name != "dep" || deps[1].Name != "real" {
		t.Fatalf("deps %+v", deps)
	}
	if _, _, err := lockPackages(dir, "@a/other"); err == nil {
		t.Fatal("a lockfile without the agent's package was taken")
	}
}

func TestRegistryProxy(t *testing.T) {
	for _, tc := range []struct {
		cfg      map[string]any
		registry string
		want     string
	}{
		{map[string]any{"proxy": "http://p:1", "https-proxy": "http://s:2"}, "https://registry.npmjs.org/", "http://s:2"},
		{map[string]any{"proxy": "http://p:1", "https-proxy": "http://s:2"}, "http://127.0.0.1:9/", "http://p:1"},
		{map[string]any{"proxy": "http://p:1"}, "https://registry.npmjs.org/", "http://p:1"},
		{map[string]any{"proxy": "http://p:1", "noproxy": "npmjs.org,x"}, "https://registry.npmjs.org/", ""},
		{map[string]any{}, "https://registry.npmjs.org/", ""},
	} {
		if got := registryProxy(tc.cfg, tc.registry); got != tc.want {
			t.Errorf("registryProxy(%v, %s) = %q, want %q", tc.cfg, tc.registry, got, tc.want)
		}
	}
	if got := redactProxy("http://user:secret@p:1"); got != "http://p:1" {
		t.Errorf("redactProxy = %q", got)
	}
}
