package mcpserver

import (
	"bytes"
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/session"
)

// StartAgentInput are the arguments of sandbox_start_agent.
type StartAgentInput struct {
	Sandbox string   `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	Args    []string `json:"args,omitempty" jsonschema:"arguments for the agent after the ones paddock gives it, e.g. a prompt"`
}

// StartAgentResult is the session sandbox_start_agent started.
type StartAgentResult struct {
	Sandbox string              `json:"sandbox"`
	Session sandbox.SessionInfo `json:"session"`
	Notes   []string            `json:"notes,omitempty"`
}

// LogsInput are the arguments of sandbox_logs.
type LogsInput struct {
	Sandbox string `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	Tail    int    `json:"tail,omitempty" jsonschema:"lines from the end (default 100; at most 64 KiB of text is returned)"`
}

// LogsResult is what a session printed, as text.
type LogsResult struct {
	Sandbox string               `json:"sandbox"`
	Session *sandbox.SessionInfo `json:"session,omitempty"`
	Output  string               `json:"output"`
}

func registerSessions(srv *mcp.Server, s *server) {
	yes, no := true, false
	addTool(srv, &mcp.Tool{Name: "sandbox_start_agent", Title: "Start a sandbox's agent in the background",
		Description: `Start the sandbox's agent (with args, e.g. a prompt) in a background session, as paddock run -d
does: it runs on a terminal the sandbox keeps, with no one attached; read what it prints with
sandbox_logs, and a person can join it with paddock attach. A stopped sandbox is started. One
session per sandbox: starting while one runs is an error.`,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, OpenWorldHint: &yes}}, s.startAgent, nil)
	addTool(srv, &mcp.Tool{Name: "sandbox_logs", Title: "Read what a sandbox's background session printed",
		Description: `Read the end of what the sandbox's background session (sandbox_start_agent, paddock run -d)
printed, as text with the terminal's escape sequences removed, and whether it still runs (or
its exit code).`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no}}, s.logs, nil)
}

func (s *server) startAgent(ctx context.Context, in StartAgentInput) (StartAgentResult, *mcp.CallToolResult, error) {
	m, rec, n, err := s.resolve(in.Sandbox)
	if err != nil {
		return StartAgentResult{}, nil, err
	}
	info, err := m.StartSession(ctx, rec, in.Args, sandbox.SessionSize{Rows: 40, Cols: 120})
	if err != nil {
		return StartAgentResult{}, nil, err
	}
	return StartAgentResult{Sandbox: rec.Name, Session: info, Notes: n.list()}, nil, nil
}

func (s *server) logs(ctx context.Context, in LogsInput) (LogsResult, *mcp.CallToolResult, error) {
	if in.Tail < 0 {
		return LogsResult{}, nil, fmt.Errorf("%w: tail %d: give a number of lines", sandbox.ErrBadInput, in.Tail)
	}
	if in.Tail == 0 {
		in.Tail = 100
	}
	m, rec, _, err := s.resolve(in.Sandbox)
	if err != nil {
		return LogsResult{}, nil, err
	}
	var b bytes.Buffer
	if err := m.Logs(ctx, rec, &b, sandbox.LogsOptions{Tail: in.Tail}); err != nil {
		return LogsResult{}, nil, err
	}
	text := session.Plain(b.Bytes())
	if len(text) > 64<<10 {
		text = text[len(text)-64<<10:]
	}
	return LogsResult{Sandbox: rec.Name, Session: m.Session(rec), Output: text}, nil, nil
}
