package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/backend/backendtest"
	"github.com/paddockhq/paddock/internal/config"
	"github.com/paddockhq/paddock/internal/sandbox"
)

// result is what a user sees of one paddock command.
type result struct {
	out, err string
	code     int
}

// cliEnv runs paddock's command line in the process, on a backend that runs nothing
// (internal/backend/backendtest), with its own PADDOCK_HOME and configuration.
type cliEnv struct {
	t  *testing.T
	be *backendtest.Backend
	ws string
}

func newCLIEnv(t *testing.T) *cliEnv {
	tmp := t.TempDir()
	if r, err := filepath.EvalSymlinks(tmp); err == nil {
		tmp = r
	}
	t.Setenv("PADDOCK_HOME", filepath.Join(tmp, "home"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config"))
	t.Setenv("PADDOCK_BACKEND", "")
	t.Setenv("PADDOCK_AGENT_UPDATES", "off")
	ws := filepath.Join(tmp, "proj")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	return &cliEnv{t: t, be: &backendtest.Backend{ExitCodes: map[string]int{"false": 3, "nosuch": -1}}, ws: ws}
}

func (e *cliEnv) run(args ...string) result {
	e.t.Helper()
	out, err := os.CreateTemp(e.t.TempDir(), "out")
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	in, err := os.Open(os.DevNull)
	if err != nil {
		e.t.Fatal(err)
	}
	defer in.Close()
	var stderr bytes.Buffer
	f := &Factory{IO: IOStreams{In: in, Out: out, Err: &stderr, OutFile: out},
		Settings: sandbox.Settings{Backends: func(config.Config) map[string]sandbox.Backend {
			return map[string]sandbox.Backend{"native": e.be}
		}}}
	root := NewRootCmd(f)
	root.SetArgs(args)
	code := exitCode(f.IO.Err, unknownCommand(root, root.ExecuteContext(context.Background())))
	b, _ := os.ReadFile(out.Name())
	return result{out: string(b), err: stderr.String(), code: code}
}

// TestCommands drives the commands a user types, without an engine: what each prints on stdout
// and stderr, and its exit code.
func TestCommands(t *testing.T) {
	e := newCLIEnv(t)
	name := "shell-proj"
	for _, tt := range []struct {
		args       []string
		code       int
		out, err   string // substrings; "" checks nothing, "-" checks emptiness
		jsonStatus string // ls --json: the sandbox's status, or "none"
	}{
		{args: []string{"create", "shell", e.ws}, out: name + "\n", err: "-"},
		{args: []string{"ls", "-a", "--json"}, jsonStatus: "stopped"},
		{args: []string{"ls", "--json"}, jsonStatus: "none"},
		{args: []string{"exec", name, "echo", "hi"}, out: "echo hi\n", err: "-"},
		{args: []string{"ls", "--json"}, jsonStatus: "running"},
		{args: []string{"exec", name, "false"}, code: 3, out: "false\n"},
		{args: []string{"exec", name, "nosuch"}, code: ExitNotFound, err: "paddock: nosuch: command not found in the sandbox\n"},
		{args: []string{"exec", "nobody-here", "true"}, code: ExitEngine, err: "nobody-here"},
		{args: []string{"inspect", name}, out: `"workspace": "` + e.ws + `"`},
		{args: []string{"stop", name}, out: name + "\n", err: "-"},
		{args: []string{"ls", "-a", "--json"}, jsonStatus: "stopped"},
		{args: []string{"rm", "nobody-here", name}, code: ExitError, out: name + "\n", err: "nobody-here"},
		{args: []string{"ls", "-a", "--json"}, jsonStatus: "none"},
		{args: []string{"create", "--pids-limit", "3", "shell", e.ws}, code: ExitUsage, err: "--pids-limit 3: give at least 8\n", out: "-"},
		{args: []string{"create", "nosuchagent", e.ws}, code: ExitUsage, out: "-"},
		{args: []string{"frobnicate"}, code: ExitUsage, err: "unknown command"},
		{args: []string{"run"}, code: ExitUsage, err: "name an agent"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := e.run(tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", r.code, tt.code, r.out, r.err)
			}
			check := func(what, got, want string) {
				switch {
				case want == "-" && got != "":
					t.Errorf("%s: %q, want nothing", what, got)
				case want != "-" && !strings.Contains(got, want):
					t.Errorf("%s: %q, want %q in it", what, got, want)
				}
			}
			check("stdout", r.out, tt.out)
			check("stderr", r.err, tt.err)
			if strings.Count(strings.TrimSuffix(r.err, "\n"), "\n") > 0 {
				t.Errorf("stderr has more than one line: %q", r.err)
			}
			if tt.jsonStatus != "" {
				var entries []sandbox.Entry
				if err := json.Unmarshal([]byte(r.out), &entries); err != nil {
					t.Fatalf("ls --json: %v: %q", err, r.out)
				}
				got := "none"
				for _, en := range entries {
					if en.Name == name {
						got = en.Status
					}
				}
				if got != tt.jsonStatus {
					t.Errorf("ls --json: %s is %s, want %s", name, got, tt.jsonStatus)
				}
			}
		})
	}
}
