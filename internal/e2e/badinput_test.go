package e2e

// Bad input (product.md item 10): one clear line saying what is wrong, a non-zero exit, nothing
// on stdout, and no half-made sandbox left behind.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// badCheck asserts the contract for one bad-input case. Each entry of want must appear in the
// error line (case-insensitive); "a|b" accepts either.
func badCheck(t *testing.T, what string, r result, want ...string) {
	t.Helper()
	lines := lcLines(r.stderr)
	if r.code == 0 {
		t.Errorf("%s: want a non-zero exit, got %s", what, r)
		return
	}
	if r.stdout != "" {
		t.Errorf("%s: want nothing on stdout, got %q", what, r.stdout)
	}
	if len(lines) != 1 {
		t.Errorf("%s: want exactly one line on stderr, got %d: %q", what, len(lines), r.stderr)
		return
	}
	if !strings.HasPrefix(lines[0], "paddock: ") {
		t.Errorf("%s: the error should start with \"paddock: \", got %q", what, lines[0])
	}
	low := strings.ToLower(lines[0])
	for _, w := range want {
		found := false
		for _, alt := range strings.Split(w, "|") {
			if strings.Contains(low, strings.ToLower(alt)) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the error should mention %q, got %q", what, w, lines[0])
		}
	}
}

func TestBadInput(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		// An existing sandbox that no bad command may disturb, and a fresh folder where a run
		// that got too far would leave a new one.
		keep := e.workspace("keep")
		e.ok(keep, "create", "shell")
		fresh := e.workspace("fresh")
		file := filepath.Join(e.dir, "a-file")
		e.writeFile(file, "not a folder\n")
		baseline := e.sandboxDirs()
		if len(baseline) != 1 {
			t.Fatalf("want one sandbox folder after create, got %v", baseline)
		}

		cases := []struct {
			name string
			dir  string // "" means the fresh workspace
			args []string
			want []string
		}{
			{"unknown agent", "", []string{"run", "nope"}, []string{`"nope"`, "agent"}},
			{"create: unknown agent", "", []string{"create", "nope"}, []string{`"nope"`, "agent"}},
			{"missing workspace", "", []string{"run", "-w", "/nonexistent", "shell", "-c", "true"}, []string{"/nonexistent", "not exist|no such"}},
			{"create: missing workspace", "", []string{"create", "shell", "/nonexistent"}, []string{"/nonexistent", "not exist|no such"}},
			{"workspace is a file", "", []string{"run", "-w", file, "shell", "-c", "true"}, []string{file, "folder|directory"}},
			{"workspace /", "", []string{"run", "-w", "/", "shell", "-c", "true"}, []string{"/", "--force"}},
			{"workspace $HOME with -w", "", []string{"run", "-w", e.home, "shell", "-c", "true"}, []string{e.home, "--force"}},
			{"workspace $HOME as the current folder", e.home, []string{"run", "shell", "-c", "true"}, []string{e.home, "--force"}},
			{"-e with a bad name", "", []string{"run", "-e", "1FOO=bar", "shell", "-c", "true"}, []string{"1FOO"}},
			{"-e of an unset variable", "", []string{"run", "-e", "UNSET_VAR_XYZ", "shell", "-c", "true"}, []string{"UNSET_VAR_XYZ", "not set"}},
			{"--env-file missing", "", []string{"run", "--env-file", "/nonexistent", "shell", "-c", "true"}, []string{"--env-file", "/nonexistent"}},
			{"-v missing host folder", "", []string{"run", "-v", "/nonexistent:/x", "shell", "-c", "true"}, []string{"/nonexistent"}},
			{"-v relative sandbox path", "", []string{"run", "-v", "/tmp:relative", "shell", "-c", "true"}, []string{"relative", "absolute"}},
			{"-v over /proc", "", []string{"run", "-v", "/tmp:/proc", "shell", "-c", "true"}, []string{"/proc"}},
			{"-v with too many parts", "", []string{"run", "-v", "a:b:c:d", "shell", "-c", "true"}, []string{"a:b:c:d"}},
			{"--memory lots", "", []string{"run", "--memory", "lots", "shell", "-c", "true"}, []string{"--memory", "lots"}},
			{"--memory 1k", "", []string{"run", "--memory", "1k", "shell", "-c", "true"}, []string{"--memory", "1k"}},
			{"--cpus 0", "", []string{"run", "--cpus", "0", "shell", "-c", "true"}, []string{"--cpus", `"0"`}},
			{"--cpus 999", "", []string{"run", "--cpus", "999", "shell", "-c", "true"}, []string{"--cpus", "999"}},
			{"--name with bad characters", "", []string{"run", "--name", "bad name!", "shell", "-c", "true"}, []string{"--name", "bad name!"}},
			{"unknown flag", "", []string{"run", "--bogus", "shell"}, []string{"--bogus"}},
			{"run without an agent", "", []string{"run"}, []string{"agent"}},
			{"exec: unknown sandbox", "", []string{"exec", "nosuch", "true"}, []string{"nosuch"}},
			{"stop: unknown sandbox", "", []string{"stop", "nosuch"}, []string{"nosuch"}},
			{"rm: unknown sandbox", "", []string{"rm", "nosuch"}, []string{"nosuch"}},
			{"inspect: unknown sandbox", "", []string{"inspect", "nosuch"}, []string{"nosuch"}},
			{"start: unknown sandbox", "", []string{"start", "nosuch"}, []string{"nosuch"}},
		}
		for _, c := range cases {
			dir := c.dir
			if dir == "" {
				dir = fresh
			}
			r := e.run(dir, c.args...)
			badCheck(t, c.name+" ("+strings.Join(c.args, " ")+")", r, c.want...)
			if got := e.sandboxDirs(); !slices.Equal(got, baseline) {
				t.Fatalf("%s: sandbox folders changed from %v to %v", c.name, baseline, got)
			}
		}
		if en := lcFind(lcLs(t, e, "-a"), "shell-keep"); en == nil || en.Workspace != keep {
			t.Errorf("the existing sandbox was disturbed: %+v", en)
		}
	})
}

// TestBadInputCorruptRecord: a sandbox whose record is garbage does not break ls, is named by
// inspect with the fix, and rm -f removes it.
func TestBadInputCorruptRecord(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		e.ok(e.workspace("broken"), "create", "shell")
		e.ok(e.workspace("healthy"), "create", "shell")
		entries := lcLs(t, e, "-a")
		bad, good := lcFind(entries, "shell-broken"), lcFind(entries, "shell-healthy")
		if bad == nil || good == nil {
			t.Fatalf("want shell-broken and shell-healthy, got %+v", entries)
		}
		id12 := bad.ID[:12]
		record := filepath.Join(e.phome, "sandboxes", id12, "record.json")
		if err := os.WriteFile(record, []byte("{garbage"), 0o600); err != nil {
			t.Fatal(err)
		}

		r := e.run("", "ls", "-a")
		lines := lcLines(r.stderr)
		switch {
		case r.code != 0:
			t.Errorf("ls -a with a corrupt record should still work, got %s", r)
		case !strings.Contains(r.stdout, "shell-healthy") || strings.Contains(r.stdout, "shell-broken"):
			t.Errorf("ls -a should list the healthy sandbox only, got %q", r.stdout)
		case len(lines) != 1 || !strings.HasPrefix(lines[0], "paddock: ") || !strings.Contains(lines[0], id12) || !strings.Contains(lines[0], "rm -f"):
			t.Errorf("ls -a should warn in one line naming %s and `rm -f`, got %q", id12, r.stderr)
		}
		if got := lcNames(lcLs(t, e, "-a")); !slices.Equal(got, []string{"shell-healthy"}) {
			t.Errorf("ls -a --json: want only shell-healthy, got %v", got)
		}

		r = e.run("", "inspect", id12)
		badCheck(t, "inspect of a corrupt sandbox", r, id12, "corrupt", "rm -f")

		lcWant(t, "rm -f of a corrupt sandbox", e.run("", "rm", "-f", id12), 0, id12+"\n")
		if dirs := e.sandboxDirs(); !slices.Equal(dirs, []string{good.ID[:12]}) {
			t.Errorf("after rm -f %s, want only %s left, got %v", id12, good.ID[:12], dirs)
		}
		if r := e.run("", "ls", "-a"); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "shell-healthy") {
			t.Errorf("ls -a after removing the corrupt sandbox: %s", r)
		}
	})
}
