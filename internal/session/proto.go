// Package session keeps an agent's session going without a terminal attached (paddock run -d):
// a server that holds each session's terminal (its master side), keeps what it printed (the
// scrollback), and lets any number of viewers attach, watch its logs and detach again; and the
// client the CLI uses to reach it. The server is the sandbox's host-side supervisor: a session
// outlives every terminal, and its memory is the supervisor's, outside the agent's limits but
// bounded (the scrollback's size and a viewer's queue).
package session

import "time"

// Message types on a session server's socket (execproto framing; the fields in Payload).
const (
	TypeStart  = "session-start"  // start a session: Request
	TypeAttach = "session-attach" // attach: Request (Name, Rows, Cols), the data socket attached
	TypeLogs   = "session-logs"   // scrollback: Request (Name, Tail, Follow), the data socket attached
	TypeList   = "session-list"   // what runs: []Info in the reply's Payload
	TypeResize = "session-resize" // an attached viewer's terminal changed size: Request (Rows, Cols)
	TypeOK     = "ok"
	TypeError  = "error"
	TypeExit   = "exit" // the session ended: Message.Code
)

// Request is what a client asks for.
type Request struct {
	Name   string   `json:"name"`
	Argv   []string `json:"argv,omitempty"`
	Env    []string `json:"env,omitempty"`
	Dir    string   `json:"dir,omitempty"`
	User   string   `json:"user,omitempty"`
	Rows   uint16   `json:"rows,omitempty"`
	Cols   uint16   `json:"cols,omitempty"`
	Tail   int      `json:"tail,omitempty"` // lines of scrollback for logs; < 0: all of it
	Follow bool     `json:"follow,omitempty"`
}

// Info says what a session is doing.
type Info struct {
	Name       string    `json:"name"`
	Command    []string  `json:"command"`
	Running    bool      `json:"running"`
	ExitCode   int       `json:"exit_code,omitempty"`
	Started    time.Time `json:"started"`
	LastOutput time.Time `json:"last_output,omitzero"`
	Viewers    int       `json:"viewers"`
	Printed    int64     `json:"printed_bytes"`
}

// ScrollbackSize is how much of a session's output is kept for logs and for a new viewer.
const ScrollbackSize = 1 << 20

// DefaultName is the session paddock run -d starts: the sandbox's agent.
const DefaultName = "agent"
