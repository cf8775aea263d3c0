// Package mcpserver is paddock's second front end: a Model Context Protocol server, over stdio,
// through which an orchestrating agent or an editor drives sandboxes (create and run, exec, list,
// inspect, stop, remove, the egress audit log and policy check). Like the command line it only
// calls the sandbox manager (internal/sandbox); errors are tool errors carrying the one-line
// message the command line prints.
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

// Bounds of exec and agent runs.
const (
	DefaultTimeout = 120 * time.Second
	MaxTimeout     = time.Hour
	DefaultOutput  = 64 << 10
	MaxOutput      = 1 << 20
	maxStdin       = 1 << 20
	maxNotes       = 40
)

// instructions tell the client what the server is for.
const instructions = `paddock runs commands and AI coding agents in isolated, persistent sandboxes, one per
(workspace folder, agent). The workspace folder is shared with the sandbox at its own path; nothing
else of the host is, and the network goes through an egress proxy that allows only what the
sandbox's policy allows. Typical use: sandbox_run to create (or find) and start the sandbox of a
folder, sandbox_exec to run commands in it, policy_log and policy_check to see what the network let
through, sandbox_rm when done. Sandboxes are named; every tool that acts on one takes that name
(or its ID).`

// New returns the MCP server with paddock's tools; settings are the binary's (see
// cmd/internal/wire), version is paddock's.
func New(settings sandbox.Settings, version string) *mcp.Server {
	s := &server{settings: settings}
	srv := mcp.NewServer(&mcp.Implementation{Name: "paddock", Title: "paddock sandboxes", Version: version},
		&mcp.ServerOptions{Instructions: paragraph(instructions)})
	yes, no := true, false
	addTool(srv, &mcp.Tool{Name: "sandbox_run", Title: "Create or start a sandbox (and run its agent)",
		Description: `Create the sandbox of a workspace folder for an agent, or find the existing one, and start it.
With args, then run the agent non-interactively with those arguments (e.g. for claude: ["-p", "fix the
failing test"]) and return its output and exit code, as sandbox_exec does. Settings given for an
existing sandbox that differ from its own are refused unless recreate is true (recreate keeps its
home and installed state). Returns the sandbox's name, which the other tools take.`,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &no, OpenWorldHint: &yes}}, s.run, runSchema)
	addTool(srv, &mcp.Tool{Name: "sandbox_exec", Title: "Run a command in a sandbox",
		Description: `Run a command in a sandbox (starting the sandbox if it is stopped) and return its exit code and
output. The command is an argv array, run without a shell: use ["sh", "-c", "..."] for pipes and
redirections. It runs in the workspace folder unless workdir says otherwise. Output is bounded:
past max_output_bytes per stream the middle is left out (the first and last halves are kept) and
truncated says so. A command still running after timeout_seconds is killed, with everything it
started, and the call fails. A non-zero exit code is a result, not an error.`,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, OpenWorldHint: &yes}}, s.exec, execSchema)
	addTool(srv, &mcp.Tool{Name: "sandbox_list", Title: "List sandboxes",
		Description: "List paddock's sandboxes: name, agent, workspace folder, status (running or stopped), backend.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no}}, s.list, nil)
	addTool(srv, &mcp.Tool{Name: "sandbox_inspect", Title: "Describe a sandbox",
		Description: `Describe one sandbox as paddock inspect does: settings, template, mounts, limits (asked for and
enforced), state, network preset and the paths of its state folder and audit log.`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no}}, s.inspect, nil)
	addTool(srv, &mcp.Tool{Name: "sandbox_stop", Title: "Stop a sandbox",
		Description: "Stop a sandbox: its processes get grace_seconds to exit, then are killed. Its files stay; sandbox_exec or sandbox_run start it again.",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, IdempotentHint: true, OpenWorldHint: &no}}, s.stop, nil)
	addTool(srv, &mcp.Tool{Name: "sandbox_rm", Title: "Remove a sandbox",
		Description: `Remove a sandbox and its private state (its home, installed packages, /tmp). The workspace folder
and every other mounted folder are never touched. A running sandbox is removed only with force.`,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, IdempotentHint: true, OpenWorldHint: &no}}, s.remove, nil)
	addTool(srv, &mcp.Tool{Name: "policy_log", Title: "Read a sandbox's network audit log",
		Description: `Read the egress audit log: every connection the sandbox (or every sandbox, without one named)
tried to make, oldest first, with host, port, decision (allow or deny), the rule that decided,
the reason of a refusal and the bytes each way.`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no}}, s.policyLog, logSchema)
	addTool(srv, &mcp.Tool{Name: "policy_check", Title: "Would a sandbox be allowed to reach a URL",
		Description: `Judge a URL (http, https, ssh or git) or host:port as the sandbox's egress proxy would now,
resolving the name as the proxy does: the decision, the rule that decided and where it comes from
(preset, global, sandbox), the reason of a refusal and the command a user would run to allow it.
A refusal is a result, not an error.`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &yes}}, s.policyCheck, nil)
	registerCopy(srv, s)
	registerSessions(srv, s)
	registerPorts(srv, s)
	registerBranch(srv, s)
	return srv
}

// Serve serves the tools on in and out until in ends or ctx is done.
func Serve(ctx context.Context, settings sandbox.Settings, version string, in io.ReadCloser, out io.WriteCloser) error {
	return New(settings, version).Run(ctx, &mcp.IOTransport{Reader: in, Writer: out})
}

// addTool adds a tool whose input schema is inferred from In, then adjusted by fix (enums,
// bounds), and whose errors become tool errors with paddock's one-line message.
func addTool[In, Out any](srv *mcp.Server, t *mcp.Tool, h func(context.Context, In) (Out, *mcp.CallToolResult, error), fix func(*jsonschema.Schema)) {
	sch, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: %v", t.Name, err))
	}
	if fix != nil {
		fix(sch)
	}
	t.InputSchema = sch
	t.Description = paragraph(t.Description)
	mcp.AddTool(srv, t, func(ctx context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		out, res, err := h(ctx, in)
		if err != nil {
			return nil, out, errors.New(sandbox.OneLine(err.Error()))
		}
		return res, out, nil
	})
}

// paragraph joins the lines of a text wrapped for the source into one paragraph.
func paragraph(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ") }

// server holds what every call needs; each call opens its own manager (cheap: a few files),
// so that the status lines and warnings of one call are that call's notes.
type server struct {
	settings sandbox.Settings
}

// open opens the manager of one call; backend is the backend of new sandboxes ("": the
// default, as for the command line).
func (s *server) open(backend string) (*sandbox.Manager, *notes, error) {
	st := s.settings
	n := &notes{}
	st.Progress, st.ProgressTTY = n, false
	if backend != "" {
		st.Backend = backend
	}
	m, err := sandbox.Open(st)
	return m, n, err
}

// resolve opens the manager and finds the sandbox ref names.
func (s *server) resolve(ref string) (*sandbox.Manager, *store.Record, *notes, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, nil, nil, fmt.Errorf("%w: name the sandbox (its name or ID, see sandbox_list)", sandbox.ErrBadInput)
	}
	m, n, err := s.open("")
	if err != nil {
		return nil, nil, nil, err
	}
	rec, err := m.Resolve(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, rec, n, nil
}

// notes collects the status lines and warnings the manager prints during one call.
type notes struct {
	mu    sync.Mutex
	lines []string
	part  string
}

func (n *notes) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	text := n.part + strings.ReplaceAll(string(p), "\r", "\n")
	lines := strings.Split(text, "\n")
	n.part = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		l = strings.TrimSpace(strings.TrimPrefix(l, "paddock: "))
		if l != "" && len(n.lines) < maxNotes {
			n.lines = append(n.lines, l)
		}
	}
	return len(p), nil
}

// list is what was said; nil-safe.
func (n *notes) list() []string {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.lines...)
}

// entry is rec as sandbox_list shows it.
func entry(ctx context.Context, m *sandbox.Manager, rec *store.Record) (sandbox.Entry, error) {
	es, _, err := m.List(ctx, true)
	if err != nil {
		return sandbox.Entry{}, err
	}
	for _, e := range es {
		if e.ID == rec.ID {
			return e, nil
		}
	}
	return sandbox.Entry{}, fmt.Errorf("sandbox %s was removed meanwhile", rec.Name)
}

// envOf checks KEY=VALUE settings: unlike the command line's -e KEY, a bare KEY would hand the
// server's own environment (its keys) to the sandbox, so a value is required.
func envOf(env []string) ([]string, error) {
	for _, e := range env {
		if !strings.Contains(e, "=") {
			return nil, fmt.Errorf("%w: env %q: give KEY=VALUE (the server's own environment is never passed to a sandbox)", sandbox.ErrBadInput, e)
		}
	}
	return sandbox.ParseEnv(env, nil)
}

// bounds turns timeout_seconds and max_output_bytes into the limits of one run.
func bounds(timeout, maxOut *int) (time.Duration, int, error) {
	t, o := DefaultTimeout, DefaultOutput
	if timeout != nil {
		if *timeout < 1 || time.Duration(*timeout)*time.Second > MaxTimeout {
			return 0, 0, fmt.Errorf("%w: timeout_seconds %d: give 1 to %d", sandbox.ErrBadInput, *timeout, int(MaxTimeout/time.Second))
		}
		t = time.Duration(*timeout) * time.Second
	}
	if maxOut != nil {
		if *maxOut < 0 || *maxOut > MaxOutput {
			return 0, 0, fmt.Errorf("%w: max_output_bytes %d: give 0 to %d", sandbox.ErrBadInput, *maxOut, MaxOutput)
		}
		o = *maxOut
	}
	return t, o, nil
}

// ExecResult is what a command did.
type ExecResult struct {
	Sandbox    string         `json:"sandbox"`
	ExitCode   int            `json:"exit_code"`
	Stdout     sandbox.Output `json:"stdout"`
	Stderr     sandbox.Output `json:"stderr"`
	DurationMS int64          `json:"duration_ms"`
	// TimedOut: the command was killed at its timeout (the call is then an error).
	TimedOut bool     `json:"timed_out,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// capture runs run with bounded output and a timeout, and makes its result. A command that timed
// out is an error result that still carries the output so far.
func capture(ctx context.Context, name string, stdin []byte, timeout time.Duration, limit int, n *notes,
	run func(context.Context, sandbox.Streams) (int, error)) (ExecResult, *mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	code, out, err := sandbox.Capture(stdin, limit, func(s sandbox.Streams) (int, error) { return run(ctx, s) })
	r := ExecResult{Sandbox: name, ExitCode: code, Stdout: out.Stdout, Stderr: out.Stderr,
		DurationMS: time.Since(start).Milliseconds()}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded) {
		r.TimedOut, r.ExitCode, r.Notes = true, -1, n.list()
		msg := fmt.Sprintf("the command did not end within %s and was killed; give a larger timeout_seconds (at most %d) if it needs longer",
			timeout, int(MaxTimeout/time.Second))
		return r, &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: msg},
			&mcp.TextContent{Text: r.text()}}}, nil
	}
	if err != nil {
		return r, nil, err
	}
	r.Notes = n.list()
	return r, &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: r.text()}}}, nil
}

// text is the result for a reader: exit code, then each stream.
func (r ExecResult) text() string {
	var b strings.Builder
	if r.TimedOut {
		fmt.Fprintf(&b, "killed after %d ms (timeout)\n", r.DurationMS)
	} else {
		fmt.Fprintf(&b, "exit code %d\n", r.ExitCode)
	}
	for _, s := range []struct {
		name string
		o    sandbox.Output
	}{{"stdout", r.Stdout}, {"stderr", r.Stderr}} {
		if s.o.Bytes == 0 {
			continue
		}
		fmt.Fprintf(&b, "--- %s", s.name)
		if s.o.Truncated {
			fmt.Fprintf(&b, " (%d bytes, truncated)", s.o.Bytes)
		}
		b.WriteString("\n" + s.o.Text)
		if !strings.HasSuffix(s.o.Text, "\n") {
			b.WriteString("\n")
		}
	}
	for _, l := range r.Notes {
		b.WriteString("paddock: " + l + "\n")
	}
	return b.String()
}
