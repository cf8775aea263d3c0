package mcpserver

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/sandbox"
)

// CopyInput are the arguments of sandbox_copy.
type CopyInput struct {
	Sandbox     string `json:"sandbox" jsonschema:"the sandbox's name or ID"`
	Direction   string `json:"direction" jsonschema:"out: from the sandbox to the host; in: from the host into the sandbox"`
	SandboxPath string `json:"sandbox_path" jsonschema:"the path in the sandbox (relative: below its workspace); ending in /. names a folder's contents"`
	HostPath    string `json:"host_path" jsonschema:"the absolute path on the host; ending in /. names a folder's contents"`
	Archive     bool   `json:"archive,omitempty" jsonschema:"keep owners (numeric user and group ids)"`
	FollowLink  bool   `json:"follow_link,omitempty" jsonschema:"copy what a symlink given as the source points to"`
}

// CopyResult is what sandbox_copy did.
type CopyResult struct {
	Sandbox string   `json:"sandbox"`
	Files   int      `json:"files"`
	Bytes   int64    `json:"bytes"`
	Skipped []string `json:"skipped,omitempty"`
	// SkippedMore counts what was not copied beyond the names in Skipped.
	SkippedMore int      `json:"skipped_more,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

func registerCopy(srv *mcp.Server, s *server) {
	yes, no := true, false
	addTool(srv, &mcp.Tool{Name: "sandbox_copy", Title: "Copy files between a sandbox and the host",
		Description: `Copy a file or folder out of a sandbox (direction out) or into it (direction in), as paddock cp
and docker cp do: into the destination when it is a folder, as the destination otherwise (its
folder must exist). Modes and times are kept; a symlink is copied as a symlink. What comes out of
a sandbox never lands outside host_path; device files are not copied and setuid bits are dropped.
A stopped sandbox is started.`,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, OpenWorldHint: &no}}, s.copy, nil)
}

func (s *server) copy(ctx context.Context, in CopyInput) (CopyResult, *mcp.CallToolResult, error) {
	if in.Direction != "out" && in.Direction != "in" {
		return CopyResult{}, nil, fmt.Errorf("%w: direction %q: give out or in", sandbox.ErrBadInput, in.Direction)
	}
	if !filepath.IsAbs(in.HostPath) {
		return CopyResult{}, nil, fmt.Errorf("%w: host_path %q: give an absolute path", sandbox.ErrBadInput, in.HostPath)
	}
	m, rec, n, err := s.resolve(in.Sandbox)
	if err != nil {
		return CopyResult{}, nil, err
	}
	o := sandbox.CopyOptions{Archive: in.Archive, Follow: in.FollowLink}
	var rep sandbox.CopyReport
	if in.Direction == "out" {
		rep, err = m.CopyFrom(ctx, rec, in.SandboxPath, in.HostPath, o)
	} else {
		rep, err = m.CopyTo(ctx, rec, in.HostPath, in.SandboxPath, o)
	}
	if err != nil {
		return CopyResult{}, nil, err
	}
	return CopyResult{Sandbox: rec.Name, Files: rep.Files, Bytes: rep.Bytes, Skipped: rep.Skipped, SkippedMore: rep.SkippedMore, Notes: n.list()}, nil, nil
}
