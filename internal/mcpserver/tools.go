package mcpserver

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

// RunInput are the arguments of sandbox_run. (Branch mode, once paddock has it, is one more
// field here.)
type RunInput struct {
	Agent     string   `json:"agent,omitempty" jsonschema:"the agent the sandbox is for (see runSchema)"`
	Workspace string   `json:"workspace,omitempty" jsonschema:"absolute path of the workspace folder on the host, shared with the sandbox at the same path (default: the server's working folder)"`
	Name      string   `json:"name,omitempty" jsonschema:"name of a new sandbox (default AGENT-FOLDER)"`
	Network   string   `json:"network,omitempty" jsonschema:"egress preset of a new sandbox: locked (only what is allowed by rule), balanced (default: agents' APIs, package registries, git hosts) or open (the public Internet)"`
	Template  string   `json:"template,omitempty" jsonschema:"root filesystem: host (default: the host's own, read-only) or an OCI image such as debian:bookworm"`
	Env       []string `json:"env,omitempty" jsonschema:"settings of the sandbox's environment, each KEY=VALUE"`
	Memory    string   `json:"memory,omitempty" jsonschema:"memory limit, e.g. 2g"`
	CPUs      float64  `json:"cpus,omitempty" jsonschema:"CPU limit, e.g. 1.5"`
	PidsLimit int64    `json:"pids_limit,omitempty" jsonschema:"process limit (default 4096)"`
	Backend   string   `json:"backend,omitempty" jsonschema:"engine of a new sandbox: native (Linux namespaces, the default on Linux) or docker"`
	Recreate  bool     `json:"recreate,omitempty" jsonschema:"re-create an existing sandbox with these settings, keeping its home and installed state"`
	Args      []string `json:"args,omitempty" jsonschema:"run the agent with these arguments and return its output (omit to only create and start the sandbox)"`
	Stdin     *string  `json:"stdin,omitempty" jsonschema:"input of the agent run (default: none)"`

	TimeoutSeconds *int `json:"timeout_seconds,omitempty" jsonschema:"kill the agent run after this many seconds (default 120, at most 3600)"`
	MaxOutputBytes *int `json:"max_output_bytes,omitempty" jsonschema:"bytes of each output stream of the agent run to return (default 65536, at most 1048576)"`
}

// runSchema names the agents. (Choices are listed in descriptions rather than as enums, so
// that a wrong one gets paddock's own message, as on the command line.)
func runSchema(s *jsonschema.Schema) {
	if p := s.Properties["agent"]; p != nil {
		p.Description = "the agent the sandbox is for: " + strings.Join(agent.Names(), ", ") +
			" (default shell: a plain sandbox to run commands in)"
	}
	boundsSchema(s)
}

// RunResult is what sandbox_run did.
type RunResult struct {
	Sandbox sandbox.Entry `json:"sandbox"`
	// Created: the sandbox is new.
	Created bool `json:"created"`
	// Run is the agent run's result (with args only).
	Run   *ExecResult `json:"run,omitempty"`
	Notes []string    `json:"notes,omitempty"`
}

func (s *server) run(ctx context.Context, in RunInput) (RunResult, *mcp.CallToolResult, error) {
	if in.Agent == "" {
		in.Agent = "shell"
	}
	if _, err := agent.Lookup(in.Agent); err != nil {
		return RunResult{}, nil, fmt.Errorf("%w: %v", sandbox.ErrBadInput, err)
	}
	timeout, limit, err := bounds(in.TimeoutSeconds, in.MaxOutputBytes)
	if err != nil {
		return RunResult{}, nil, err
	}
	o, err := in.options()
	if err != nil {
		return RunResult{}, nil, err
	}
	m, n, err := s.open(in.Backend)
	if err != nil {
		return RunResult{}, nil, err
	}
	rec, created, err := m.Ensure(ctx, o)
	if err != nil {
		return RunResult{}, nil, err
	}
	if err := m.Up(ctx, rec); err != nil {
		if created {
			// A sandbox that never ran is not left behind half-made.
			m.Remove(context.WithoutCancel(ctx), rec, true)
		}
		return RunResult{}, nil, err
	}
	r := RunResult{Created: created}
	if r.Sandbox, err = entry(ctx, m, rec); err != nil {
		return RunResult{}, nil, err
	}
	if in.Args == nil {
		r.Notes = n.list()
		return r, nil, nil
	}
	var stdin []byte
	if in.Stdin != nil {
		stdin = []byte(*in.Stdin)
	}
	er, res, err := capture(ctx, rec.Name, stdin, timeout, limit, n, func(ctx context.Context, st sandbox.Streams) (int, error) {
		return m.RunAgent(ctx, rec, sandbox.AgentRun{Args: in.Args, Streams: st})
	})
	if err != nil {
		return RunResult{}, nil, err
	}
	r.Run, r.Notes = &er, er.Notes
	return r, res, nil
}

// options are the manager's options for the arguments; unset ones leave an existing sandbox's.
func (in RunInput) options() (sandbox.Options, error) {
	o := sandbox.Options{Agent: in.Agent, Workspace: in.Workspace, Name: in.Name, Template: in.Template,
		Recreate: in.Recreate, Network: in.Network, NetworkSet: in.Network != "", TemplateSet: in.Template != ""}
	var err error
	if o.Env, err = envOf(in.Env); err != nil {
		return o, err
	}
	o.EnvSet = in.Env != nil
	if in.Memory != "" {
		if o.Limits.MemoryBytes, err = sandbox.ParseMemory(in.Memory); err != nil {
			return o, err
		}
	}
	if in.CPUs != 0 {
		if o.Limits.CPUs, err = sandbox.ParseCPUs(strconv.FormatFloat(in.CPUs, 'f', -1, 64)); err != nil {
			return o, err
		}
	}
	if in.PidsLimit != 0 && in.PidsLimit < 8 {
		return o, fmt.Errorf("%w: pids_limit %d: give at least 8", sandbox.ErrBadInput, in.PidsLimit)
	}
	o.Limits.Pids = in.PidsLimit
	o.MemorySet, o.CPUsSet, o.PidsSet = in.Memory != "", in.CPUs != 0, in.PidsLimit != 0
	return o, nil
}

// ExecInput are the arguments of sandbox_exec.
type ExecInput struct {
	Sandbox string   `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	Command []string `json:"command" jsonschema:"the command and its arguments, e.g. [\"git\", \"status\"] or [\"sh\", \"-c\", \"make test 2>&1 | tail\"]"`
	Env     []string `json:"env,omitempty" jsonschema:"settings added to the command's environment, each KEY=VALUE"`
	Workdir string   `json:"workdir,omitempty" jsonschema:"working folder inside the sandbox (default: the workspace folder)"`
	User    string   `json:"user,omitempty" jsonschema:"user inside the sandbox: name, uid or uid:gid (default: the template's user, else root)"`
	Stdin   *string  `json:"stdin,omitempty" jsonschema:"input of the command (default: none)"`

	TimeoutSeconds *int `json:"timeout_seconds,omitempty" jsonschema:"kill the command, and what it started, after this many seconds (default 120, at most 3600)"`
	MaxOutputBytes *int `json:"max_output_bytes,omitempty" jsonschema:"bytes of stdout and of stderr to return; past it the middle is left out (default 65536, at most 1048576)"`
}

func execSchema(s *jsonschema.Schema) {
	if p := s.Properties["command"]; p != nil {
		p.Types, p.Type, p.MinItems = nil, "array", jsonschema.Ptr(1)
	}
	boundsSchema(s)
}

func boundsSchema(s *jsonschema.Schema) {
	if p := s.Properties["timeout_seconds"]; p != nil {
		p.Minimum, p.Maximum = jsonschema.Ptr(1.0), jsonschema.Ptr(float64(MaxTimeout/time.Second))
	}
	if p := s.Properties["max_output_bytes"]; p != nil {
		p.Minimum, p.Maximum = jsonschema.Ptr(0.0), jsonschema.Ptr(float64(MaxOutput))
	}
	if p := s.Properties["stdin"]; p != nil {
		p.MaxLength = jsonschema.Ptr(maxStdin)
	}
}

func (s *server) exec(ctx context.Context, in ExecInput) (ExecResult, *mcp.CallToolResult, error) {
	if len(in.Command) == 0 || in.Command[0] == "" {
		return ExecResult{}, nil, fmt.Errorf("%w: give the command as an array, e.g. [\"ls\", \"-l\"]", sandbox.ErrBadInput)
	}
	timeout, limit, err := bounds(in.TimeoutSeconds, in.MaxOutputBytes)
	if err != nil {
		return ExecResult{}, nil, err
	}
	env, err := envOf(in.Env)
	if err != nil {
		return ExecResult{}, nil, err
	}
	m, rec, n, err := s.resolve(in.Sandbox)
	if err != nil {
		return ExecResult{}, nil, err
	}
	var stdin []byte
	if in.Stdin != nil {
		stdin = []byte(*in.Stdin)
	}
	req := sandbox.ExecRequest{Argv: in.Command, Env: env, Dir: in.Workdir, User: in.User, Stdin: in.Stdin != nil}
	return capture(ctx, rec.Name, stdin, timeout, limit, n, func(ctx context.Context, st sandbox.Streams) (int, error) {
		return m.Exec(ctx, rec, req, st)
	})
}

// ListInput are the arguments of sandbox_list.
type ListInput struct {
	RunningOnly bool `json:"running_only,omitempty" jsonschema:"list only running sandboxes (default: all)"`
}

// ListResult is every sandbox.
type ListResult struct {
	Sandboxes []sandbox.Entry `json:"sandboxes"`
	// Damaged are sandboxes whose records cannot be read, and why.
	Damaged []string `json:"damaged,omitempty"`
}

func (s *server) list(ctx context.Context, in ListInput) (ListResult, *mcp.CallToolResult, error) {
	m, _, err := s.open("")
	if err != nil {
		return ListResult{}, nil, err
	}
	es, bad, err := m.List(ctx, !in.RunningOnly)
	if err != nil {
		return ListResult{}, nil, err
	}
	r := ListResult{Sandboxes: es}
	for _, c := range bad {
		r.Damaged = append(r.Damaged, sandbox.OneLine(c.Err.Error()))
	}
	return r, nil, nil
}

// SandboxInput names one sandbox.
type SandboxInput struct {
	Sandbox string `json:"sandbox" jsonschema:"the sandbox's name or ID"`
}

func (s *server) inspect(ctx context.Context, in SandboxInput) (sandbox.Inspection, *mcp.CallToolResult, error) {
	m, rec, _, err := s.resolve(in.Sandbox)
	if err != nil {
		return sandbox.Inspection{}, nil, err
	}
	v, err := m.Inspect(ctx, rec)
	return v, nil, err
}

// StopInput are the arguments of sandbox_stop.
type StopInput struct {
	Sandbox      string `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	GraceSeconds *int   `json:"grace_seconds,omitempty" jsonschema:"seconds the processes get to exit before they are killed (default 10)"`
}

// Done says which sandbox a tool acted on.
type Done struct {
	Sandbox string   `json:"sandbox"`
	Status  string   `json:"status"`
	Notes   []string `json:"notes,omitempty"`
}

func (s *server) stop(ctx context.Context, in StopInput) (Done, *mcp.CallToolResult, error) {
	grace := 10
	if in.GraceSeconds != nil {
		if *in.GraceSeconds < 0 || *in.GraceSeconds > 600 {
			return Done{}, nil, fmt.Errorf("%w: grace_seconds %d: give 0 to 600", sandbox.ErrBadInput, *in.GraceSeconds)
		}
		grace = *in.GraceSeconds
	}
	m, rec, n, err := s.resolve(in.Sandbox)
	if err != nil {
		return Done{}, nil, err
	}
	if err := m.Stop(ctx, rec, time.Duration(grace)*time.Second); err != nil {
		return Done{}, nil, err
	}
	return Done{Sandbox: rec.Name, Status: "stopped", Notes: n.list()}, nil, nil
}

// RemoveInput are the arguments of sandbox_rm.
type RemoveInput struct {
	Sandbox string `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	Force   bool   `json:"force,omitempty" jsonschema:"stop a running sandbox first (default: refuse)"`
}

func (s *server) remove(ctx context.Context, in RemoveInput) (Done, *mcp.CallToolResult, error) {
	m, rec, n, err := s.resolve(in.Sandbox)
	if err != nil {
		return Done{}, nil, err
	}
	if err := m.Remove(ctx, rec, in.Force); err != nil {
		return Done{}, nil, err
	}
	return Done{Sandbox: rec.Name, Status: "removed", Notes: n.list()}, nil, nil
}

// LogInput are the arguments of policy_log.
type LogInput struct {
	Sandbox  string `json:"sandbox,omitempty" jsonschema:"the sandbox's name or ID (default: every sandbox)"`
	Last     *int   `json:"last,omitempty" jsonschema:"return only the last this many records (default 100, at most 1000)"`
	Decision string `json:"decision,omitempty" jsonschema:"only records with this decision: allow or deny"`
}

func logSchema(s *jsonschema.Schema) {
	if p := s.Properties["last"]; p != nil {
		p.Minimum, p.Maximum = jsonschema.Ptr(1.0), jsonschema.Ptr(1000.0)
	}
}

// LogResult is a part of the audit log.
type LogResult struct {
	Records []sandbox.AuditRecord `json:"records"`
	// Omitted is how many older matching records were left out.
	Omitted int `json:"omitted,omitempty"`
}

func (s *server) policyLog(ctx context.Context, in LogInput) (LogResult, *mcp.CallToolResult, error) {
	last := 100
	if in.Last != nil {
		if *in.Last < 1 || *in.Last > 1000 {
			return LogResult{}, nil, fmt.Errorf("%w: last %d: give 1 to 1000", sandbox.ErrBadInput, *in.Last)
		}
		last = *in.Last
	}
	if in.Decision != "" && in.Decision != "allow" && in.Decision != "deny" {
		return LogResult{}, nil, fmt.Errorf("%w: decision %q: give allow or deny", sandbox.ErrBadInput, in.Decision)
	}
	m, _, err := s.open("")
	if err != nil {
		return LogResult{}, nil, err
	}
	var recs []*store.Record
	if in.Sandbox != "" {
		rec, err := m.Resolve(in.Sandbox)
		if err != nil {
			return LogResult{}, nil, err
		}
		recs = []*store.Record{rec}
	} else if recs, _, err = m.Store.List(); err != nil {
		return LogResult{}, nil, err
	}
	r := LogResult{Records: []sandbox.AuditRecord{}}
	err = m.AuditLog(ctx, recs, false, func(a sandbox.AuditRecord) error {
		if in.Decision == "" || a.Decision == in.Decision {
			r.Records = append(r.Records, a)
		}
		return nil
	})
	if err != nil {
		return LogResult{}, nil, err
	}
	if len(r.Records) > last {
		r.Omitted = len(r.Records) - last
		r.Records = r.Records[r.Omitted:]
	}
	return r, nil, nil
}

// CheckInput are the arguments of policy_check.
type CheckInput struct {
	Sandbox string `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	Target  string `json:"target" jsonschema:"a URL (http, https, ssh or git) or host:port, e.g. https://api.github.com/ or github.com:22"`
}

func (s *server) policyCheck(ctx context.Context, in CheckInput) (sandbox.CheckResult, *mcp.CallToolResult, error) {
	m, rec, _, err := s.resolve(in.Sandbox)
	if err != nil {
		return sandbox.CheckResult{}, nil, err
	}
	v, err := m.CheckEgress(ctx, rec, in.Target)
	return v, nil, err
}
