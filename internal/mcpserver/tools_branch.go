package mcpserver

import (
	"bytes"
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/paddockhq/paddock/internal/sandbox"
)

// DiffInput are the arguments of sandbox_diff.
type DiffInput struct {
	Sandbox   string `json:"sandbox" jsonschema:"the name or ID of a sandbox in branch mode"`
	Stat      bool   `json:"stat,omitempty" jsonschema:"a summary of the files changed instead of the patch"`
	Committed bool   `json:"committed,omitempty" jsonschema:"its commits only, not its uncommitted changes"`
}

// DiffResult is a branch sandbox's work.
type DiffResult struct {
	Work  *sandbox.BranchWork `json:"work"`
	Patch string              `json:"patch"`
	// Truncated: the patch was longer than 256 KiB; its start is given.
	Truncated bool `json:"truncated,omitempty"`
}

// MergeInput are the arguments of sandbox_merge.
type MergeInput struct {
	Sandbox            string `json:"sandbox" jsonschema:"the name or ID of a sandbox in branch mode"`
	FFOnly             bool   `json:"ff_only,omitempty" jsonschema:"only a fast-forward"`
	NoFF               bool   `json:"no_ff,omitempty" jsonschema:"a merge commit even when a fast-forward is possible"`
	Rebase             bool   `json:"rebase,omitempty" jsonschema:"replay its commits onto the current branch, then fast-forward (as git rebase)"`
	IncludeUncommitted bool   `json:"include_uncommitted,omitempty" jsonschema:"bring its uncommitted changes too"`
}

// MergeResult says what a merge did.
type MergeResult struct {
	Work    *sandbox.BranchWork `json:"work"`
	Message string              `json:"message"`
}

func registerBranch(srv *mcp.Server, s *server) {
	yes, no := true, false
	addTool(srv, &mcp.Tool{Name: "sandbox_diff", Title: "A branch sandbox's work against where it started",
		Description: `Show the work of a sandbox in branch mode (paddock run --branch) against the commit it started
from, as paddock diff does: its commits and uncommitted changes (committed: commits only), as a
patch or a summary. Its work is brought into the workspace's repository as objects only.`,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &no}}, s.diff, nil)
	addTool(srv, &mcp.Tool{Name: "sandbox_merge", Title: "Merge a branch sandbox's work into the current branch",
		Description: `Merge the commits of a sandbox in branch mode into the workspace's current branch, as paddock
merge does (a fast-forward when possible). A merge that would conflict changes nothing and names
the files.`,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: &yes, OpenWorldHint: &no}}, s.merge, nil)
}

func (s *server) diff(ctx context.Context, in DiffInput) (DiffResult, *mcp.CallToolResult, error) {
	m, rec, _, err := s.resolve(in.Sandbox)
	if err != nil {
		return DiffResult{}, nil, err
	}
	var b bytes.Buffer
	work, err := m.Diff(ctx, rec, &b, sandbox.DiffOptions{Stat: in.Stat, Committed: in.Committed})
	if err != nil {
		return DiffResult{}, nil, err
	}
	res := DiffResult{Work: work, Patch: b.String()}
	if len(res.Patch) > 256<<10 {
		res.Patch, res.Truncated = res.Patch[:256<<10], true
	}
	return res, nil, nil
}

func (s *server) merge(ctx context.Context, in MergeInput) (MergeResult, *mcp.CallToolResult, error) {
	m, rec, _, err := s.resolve(in.Sandbox)
	if err != nil {
		return MergeResult{}, nil, err
	}
	work, msg, err := m.Merge(ctx, rec, sandbox.MergeOptions{FFOnly: in.FFOnly, NoFF: in.NoFF, Rebase: in.Rebase, Uncommitted: in.IncludeUncommitted})
	if err != nil {
		return MergeResult{}, nil, err
	}
	return MergeResult{Work: work, Message: msg}, nil, nil
}
