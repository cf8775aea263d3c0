package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newMCPCmd lists `paddock mcp` in help, man pages and completion. The server is a front end of
// its own (internal/mcpserver): the binary starts it before the command line is parsed (see
// cmd/internal/wire), so this command runs only in a build without it.
func newMCPCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mcp",
		Short: "Serve the Model Context Protocol on stdin/stdout, for an agent or editor to drive sandboxes (e.g. `claude mcp add paddock -- paddock mcp`)",
		Long: `paddock mcp serves the Model Context Protocol over stdio: tools to create and run sandboxes,
exec commands in them (bounded output, timeouts), list, inspect, stop and remove them, read the
audit log and check the egress policy. Register it with your agent, e.g.
  claude mcp add paddock -- paddock mcp
See docs/mcp.md.`,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("this build of paddock has no MCP server")
		},
	}
}
