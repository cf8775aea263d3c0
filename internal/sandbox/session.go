package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/credentials"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/store"
)

// The types a front end hands the manager to run a command: the backend's own, named here so
// that a front end needs no backend package.
type (
	// ExecRequest is a command to run in a sandbox.
	ExecRequest = backend.ExecRequest
	// Streams are where a command's input and output go.
	Streams = backend.ExecIO
	// Mount is one folder or file shown in a sandbox.
	Mount = backend.Mount
	// State is what the backend reports of a sandbox.
	State = backend.State
	// Backend is an engine that runs sandboxes (made by the binary, see cmd/internal/wire).
	Backend = backend.Backend
)

// Errors of running a command, for front ends to map to exit codes.
var (
	// ErrStartFailed: the sandbox could not be started.
	ErrStartFailed = backend.ErrStartFailed
	// ErrNotFound: the command was not found in the sandbox.
	ErrNotFound = errors.New("command not found in the sandbox")
	// ErrNotExecutable: the command was found but cannot be executed.
	ErrNotExecutable = errors.New("cannot execute in the sandbox")
)

// Up starts rec's sandbox if it is stopped, and says on Progress which limits the host cannot
// enforce for it (the sandbox was started with --unsafe-no-limits).
func (m *Manager) Up(ctx context.Context, rec *store.Record) error {
	started, err := m.Start(ctx, rec)
	if err != nil || !started {
		return err
	}
	if st, err := m.For(rec).State(ctx, m.Sandbox(rec)); err == nil {
		if w := enforcementWarning(st); w != "" {
			m.say("warning: " + w)
		}
	}
	return nil
}

// Exec runs req in rec's sandbox with the given streams, starting the sandbox first if it is
// stopped, and returns the command's exit code. An empty Dir is the sandbox's workdir, an empty
// User the template's user. A command that failed while the sandbox hit a limit is followed by a
// line on Progress saying which.
func (m *Manager) Exec(ctx context.Context, rec *store.Record, req ExecRequest, s Streams) (int, error) {
	if req.Dir == "" {
		req.Dir = rec.Spec.Workdir
	}
	if req.User == "" {
		req.User = imageUser(rec)
	}
	if err := m.Revive(ctx, rec); err != nil {
		return -1, err
	}
	// The running case, the common one, goes straight to the init.
	code, err := m.For(rec).Exec(ctx, m.Sandbox(rec), req, s)
	if errors.Is(err, backend.ErrNotRunning) {
		if err := m.Up(ctx, rec); err != nil {
			return -1, err
		}
		code, err = m.For(rec).Exec(ctx, m.Sandbox(rec), req, s)
	}
	if err != nil {
		return code, execErr(err)
	}
	if code != 0 {
		for _, line := range m.LimitReport(ctx, rec) {
			m.say(line)
		}
	}
	return code, nil
}

// execErr gives the backends' "not found" and "cannot execute" their categories; the init
// reports them over the exec protocol, as text. The message stays as it was.
func execErr(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotExecutable):
		return err
	case strings.Contains(msg, ErrNotFound.Error()), strings.Contains(msg, "no such executable"):
		return categorized{err, ErrNotFound}
	case strings.Contains(msg, ErrNotExecutable.Error()):
		return categorized{err, ErrNotExecutable}
	}
	return err
}

// categorized is an error with a category of its own, its message unchanged.
type categorized struct{ err, cat error }

func (c categorized) Error() string   { return c.err.Error() }
func (c categorized) Unwrap() []error { return []error{c.err, c.cat} }

// AgentRun is how to run a sandbox's agent.
type AgentRun struct {
	// Args go to the agent after the arguments paddock gives it.
	Args []string
	// TTY: the agent gets a terminal (both ends of the caller's streams are one).
	TTY bool
	// Streams are the caller's.
	Streams Streams
}

// RunAgent runs rec's agent, with its keys, endpoints and settings, and returns its exit code.
// Before an agent with no key and no sign-in starts, a line on Progress says how to give one.
// Connections the sandbox's egress policy refuses meanwhile are reported on Progress (on a
// terminal, after the session: an agent's screen would be garbled by lines printed across it).
func (m *Manager) RunAgent(ctx context.Context, rec *store.Record, r AgentRun) (int, error) {
	a, err := agent.Lookup(rec.Agent)
	if err != nil {
		return -1, err
	}
	if hint := m.LoginHint(a); hint != "" && !VersionOnly(r.Args) {
		m.say(hint)
	}
	req, err := m.agentRequest(ctx, rec, a, r.Args, r.TTY)
	if err != nil {
		return -1, err
	}
	if rec.Spec.Egress != nil && m.Progress != nil {
		// A shell gets its notices at once.
		defer m.egressNotices(m.Store.Dir(rec.ID), rec.Name, r.TTY, r.TTY && rec.Agent != "shell")()
	}
	return m.Exec(ctx, rec, req, r.Streams)
}

// agentRequest is how rec's agent a is started with args: its command, keys, endpoints and
// settings.
func (m *Manager) agentRequest(ctx context.Context, rec *store.Record, a agent.Agent, args []string, tty bool) (ExecRequest, error) {
	has := m.hasFile(ctx, rec)
	epEnv, epArgs, err := m.agentEndpoints(rec, a)
	if err != nil {
		return ExecRequest{}, err
	}
	argv := a.Command(append(append(hostConfigArgs(rec, a), epArgs...), args...), has)
	req := ExecRequest{Argv: argv, Dir: rec.Workspace, TTY: tty, Stdin: true, Env: TermEnv(tty), User: imageUser(rec)}
	keys, err := m.agentKeys(rec, a)
	if err != nil {
		return ExecRequest{}, err
	}
	req.Env = append(append(req.Env, keys...), epEnv...)
	return req, nil
}

// hasFile tells whether a file exists where the sandbox's agent runs: in the backend's own
// container, on the template's files, or on the host's.
func (m *Manager) hasFile(ctx context.Context, rec *store.Record) func(string) bool {
	if hb, ok := m.For(rec).(backend.FileChecker); ok {
		return func(p string) bool { return hb.Has(ctx, m.Sandbox(rec), p) }
	}
	if img := rec.Spec.Image; img != nil {
		return img.Has
	}
	return func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && !st.IsDir()
	}
}

// agentKeys is the environment that gives a sandbox's agent its keys, decided by the secret
// store (credentials.Store.Grant); it travels in the exec request only.
func (m *Manager) agentKeys(rec *store.Record, a agent.Agent) ([]string, error) {
	if len(a.Info().Keys) == 0 {
		return nil, nil
	}
	env, err := m.Credentials().AgentEnv(rec.ID, a)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return env, nil
}

// agentEndpoints points an agent at the endpoints set with `secret set NAME --endpoint URL`: the
// variables (ANTHROPIC_BASE_URL, ...) and arguments (Codex's -c openai_base_url=...) that do it.
// A loopback endpoint is given as the sandbox's proxy address (egress.EndpointURL): its own
// address inside the sandbox would be the sandbox's loopback.
func (m *Manager) agentEndpoints(rec *store.Record, a agent.Agent) (env, args []string, err error) {
	proxyPort := 0
	if rec.Spec.Egress != nil {
		proxyPort = rec.Spec.Egress.ProxyPort
	}
	var cs *credentials.Store
	for _, k := range a.Info().Keys {
		if k.BaseURLEnv == "" && len(k.BaseURLArgs) == 0 {
			continue
		}
		if cs == nil {
			cs = m.Credentials()
		}
		ep, err := cs.Endpoint(k.Secret)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: the endpoint of secret %s: %w (set it again with `paddock secret set %s --endpoint URL`)", ErrBadInput, k.Secret, err, k.Secret)
		}
		if ep == "" {
			continue
		}
		ep = egress.EndpointURL(proxyPort, k.Secret, ep)
		if k.BaseURLEnv != "" {
			env = append(env, k.BaseURLEnv+"="+ep)
		}
		for _, arg := range k.BaseURLArgs {
			if strings.Contains(arg, "%s") {
				arg = fmt.Sprintf(arg, ep)
			}
			args = append(args, arg)
		}
	}
	return env, args, nil
}

// hostConfigArgs restores the settings paddock seeded where --agent-config host shows the user's
// own files over them (Claude Code's settings.json: its key helper, the bypass mode accepted).
func hostConfigArgs(rec *store.Record, a agent.Agent) []string {
	hc := a.Info().HostConfig
	if rec.AgentConfig != "host" || hc == nil {
		return nil
	}
	var items []string
	for _, m := range rec.Spec.Mounts {
		if m.Kind == backend.KindAgentConfig {
			if item, ok := strings.CutPrefix(m.Target, hc.Target+"/"); ok {
				items = append(items, item)
			}
		}
	}
	return agent.ArgsOverHostConfig(a, Placeholder, items)
}

// VersionOnly: the agent is asked only for its version or help, which needs no key.
func VersionOnly(args []string) bool {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return false
	}
	for _, a := range args {
		if !slices.Contains([]string{"--version", "-v", "-V", "version", "--help", "-h", "help"}, a) {
			return false
		}
	}
	return true
}

// imageUser is the default user of processes in a sandbox: the OCI template's USER, else root.
func imageUser(rec *store.Record) string {
	if rec.Spec.Image != nil {
		return rec.Spec.Image.User
	}
	return ""
}

// TermEnv is the terminal's description handed to a command that gets a terminal.
func TermEnv(tty bool) []string {
	if !tty {
		return nil
	}
	t := os.Getenv("TERM")
	if t == "" {
		t = "xterm-256color"
	}
	env := []string{"TERM=" + t}
	if c := os.Getenv("COLORTERM"); c != "" {
		env = append(env, "COLORTERM="+c)
	}
	return env
}

// enforcementWarning names the limits a started sandbox runs without.
func enforcementWarning(st backend.State) string {
	e := st.Enforced
	if e == nil {
		return ""
	}
	var missing []string
	if !e.Memory {
		missing = append(missing, "memory")
	}
	if !e.CPU {
		missing = append(missing, "CPU")
	}
	if !e.Pids {
		missing = append(missing, "process count")
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("UNSAFE: this sandbox runs without %s limits (--unsafe-no-limits); a runaway agent can starve the host",
		strings.Join(missing, " and "))
}

// Credentials is the secret store.
func (m *Manager) Credentials() *credentials.Store {
	return credentials.Open(filepath.Join(m.Store.Root, "secrets"))
}

// say prints one status line on Progress.
func (m *Manager) say(line string) {
	if m.Progress != nil {
		fmt.Fprintln(m.Progress, "paddock: "+OneLine(line))
	}
}

// OneLine is an error or status message as paddock prints it: one line, without the bad-input
// category's words.
//
// An error may quote what a sandbox wrote (a file name, its tar's complaint): control
// characters, which could move the cursor or forge lines on the user's terminal, are shown
// escaped.
func OneLine(s string) string {
	s = strings.TrimPrefix(s, ErrBadInput.Error()+": ")
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
	if Printable(s) == s {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r != '\\' && Printable(string(r)) != string(r) {
			q := strconv.QuoteToASCII(string(r))
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
