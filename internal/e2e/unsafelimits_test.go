package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUnsafeNoLimitsIsRemembered: a sandbox started with --unsafe-no-limits keeps that choice
// (a later start without the flag works, inspect shows it), and the config file can set it.
func TestUnsafeNoLimitsIsRemembered(t *testing.T) {
	e := newEnv(t, asRootless)
	e.extra = slices.DeleteFunc(e.extra, func(kv string) bool { return strings.HasPrefix(kv, "PADDOCK_UNSAFE_NO_LIMITS=") })
	cfg := filepath.Join(e.dir, "config.toml")
	e.extra = append(e.extra, "PADDOCK_CONFIG="+cfg)
	// Runs before the env's own cleanup (rm -f --all), which the bad value below would refuse,
	// leaving the sandboxes running.
	t.Cleanup(func() { os.WriteFile(cfg, nil, 0o644) })
	ws := e.workspace("unsafe")
	e.ok(ws, "--unsafe-no-limits", "run", "shell", "-c", "true")
	e.ok("", "stop", "shell-unsafe")
	if r := e.run("", "start", "shell-unsafe"); r.code != 0 {
		t.Fatalf("a sandbox started with --unsafe-no-limits cannot be started again without it: %s", r)
	}
	var views []struct {
		Limits struct {
			UnsafeNoLimits bool `json:"unsafe_no_limits"`
		} `json:"limits"`
	}
	if err := json.Unmarshal([]byte(e.ok("", "inspect", "shell-unsafe")), &views); err != nil || len(views) != 1 || !views[0].Limits.UnsafeNoLimits {
		t.Fatalf("inspect does not show the recorded --unsafe-no-limits (%v): %+v", err, views)
	}
	// From the config file: a new sandbox starts without the flag where limits are unavailable.
	e.writeFile(cfg, "unsafe_no_limits = true\n")
	e.ok(e.workspace("fromcfg"), "run", "shell", "-c", "true")
	e.writeFile(cfg, "unsafe_no_limits = maybe\n")
	if r := e.run(e.workspace("badcfg"), "run", "shell", "-c", "true"); r.code == 0 || !strings.Contains(r.stderr, "unsafe_no_limits is true or false") {
		t.Fatalf("a bad unsafe_no_limits value is not refused clearly: %s", r)
	}
}
