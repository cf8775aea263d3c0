// Package wire puts a paddock binary together: the backends and the template fetcher it links,
// and the internal commands paddock re-executes itself for. cmd/paddock and cmd/paddock-oci
// differ only in what they give it; the packages below never learn which binary runs them.
package wire

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker/egresshost"
	"github.com/paddockhq/paddock/internal/backend/native"
	"github.com/paddockhq/paddock/internal/boxinit"
	"github.com/paddockhq/paddock/internal/cli"
	"github.com/paddockhq/paddock/internal/config"
	"github.com/paddockhq/paddock/internal/doctor"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/fds"
	"github.com/paddockhq/paddock/internal/handover"
	"github.com/paddockhq/paddock/internal/image"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/spf13/cobra"
)

// Binary is what one paddock executable links.
type Binary struct {
	// Docker makes the Docker backend; defaultImage is the configured image of host-template
	// sandboxes ("" for the backend's default).
	Docker func(defaultImage string) backend.Backend
	// Fetcher fills the template cache from registries and archives.
	Fetcher image.Fetcher
	// Link reaches a container of a Docker engine that is not on this host, for the egress
	// proxy's host side (nil: this binary cannot).
	Link egresshost.Linker
	// MCP serves `paddock mcp ARGS...`, the MCP server, a front end of its own beside the
	// command line (nil: this binary hands it to paddock-oci, which links the MCP library).
	MCP func(args []string, s sandbox.Settings, version string) int
	// Manual writes the manual pages (nil: this binary hands `paddock man` to paddock-oci, which
	// links the generator).
	Manual cli.Manual
	// Internal are the internal commands only this binary has, by name (paddock-oci: the
	// provenance verifier, which links Sigstore).
	Internal map[string]func(args []string) int
}

// command is an internal command: paddock starts it (a sandbox's supervisor and init, the egress
// proxy's helpers, the template unpacker), a user never types it. args are those after its name.
type command struct {
	name    string
	minArgs int
	run     func(b Binary, args []string) int
}

// internal is every internal command, in one table (`paddock NAME ARGS...`).
var internal = []command{
	{"__init", 0, func(Binary, []string) int { return boxinit.Main() }},
	{"__supervise", 1, func(_ Binary, a []string) int {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)).With("sandbox", a[0]))
		return native.SuperviseMain(a[0])
	}},
	{native.HoldCommand, 0, func(Binary, []string) int { return native.HoldMain() }},
	{"__egress-connect", 0, func(_ Binary, a []string) int { return egress.ConnectMain(a) }},
	{"__egress-serve", 1, func(b Binary, a []string) int { return egresshost.ServeMain(a[0], b.Link) }},
	{"__relay", 0, func(_ Binary, a []string) int { return egresshost.RelayMain(a) }},
	{"__egress-link", 0, func(_ Binary, a []string) int { return egresshost.LinkMain(a) }},
	{"__sockets", 0, func(_ Binary, a []string) int { return egresshost.SocketsMain(a) }},
	{"__dial", 0, func(_ Binary, a []string) int { return egresshost.DialMain(a) }},
	{"__probe", 1, func(_ Binary, a []string) int { return doctor.ProbeMain(a[0]) }},
	{image.HelperCommand, 0, func(_ Binary, a []string) int { return image.HelperMain(a) }},
}

// Main runs the binary with os.Args and returns its exit code.
func Main(b Binary) int {
	args := os.Args
	// Nothing paddock did not open itself may reach what it starts (the supervisor, the init,
	// npm, git, and through them the sandbox): see internal/fds.
	if err := fds.Seal(inheritedFrom(args)); err != nil {
		os.Stderr.WriteString("paddock: closing inherited descriptors: " + err.Error() + "\n")
		return cli.ExitError
	}
	if len(args) > 1 {
		if run, ok := b.Internal[args[1]]; ok {
			return run(args[2:])
		}
		for _, c := range internal {
			if c.name == args[1] {
				if len(args)-2 < c.minArgs {
					return cli.ExitUsage
				}
				return c.run(b, args[2:])
			}
		}
	}
	settings := sandbox.Settings{Fetcher: b.Fetcher, Backends: b.backends}
	if mcpArgs, ok := mcpCommand(args); ok {
		if b.MCP == nil {
			err := handover.HandOver("the MCP server")
			os.Stderr.WriteString("paddock: " + sandbox.OneLine(err.Error()) + "\n")
			return cli.ExitError
		}
		// Each tool call is a command of its own: what paddock printed before handing the
		// server over is no reason to keep a call's notes back.
		os.Unsetenv(handover.HandedOverEnv)
		return b.MCP(mcpArgs, settings, cli.Version)
	}
	man := b.Manual
	if man == nil {
		man = func(*cobra.Command, string, string, io.Writer) error {
			return handover.HandOver("writing the manual pages")
		}
	}
	return cli.Main(args, settings, man)
}

// mcpCommand recognises `paddock [--backend NAME] [--unsafe-no-limits] mcp ARGS...` and returns
// the server's arguments: the global flags before mcp are its too.
func mcpCommand(args []string) ([]string, bool) {
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "mcp":
			return append(append([]string{}, args[1:i]...), args[i+1:]...), true
		case a == "--backend":
			i++
		case strings.HasPrefix(a, "--backend=") || a == "--unsafe-no-limits":
		default:
			return nil, false
		}
	}
	return nil, false
}

// backends are the binary's backends for the configuration cfg.
func (b Binary) backends(cfg config.Config) map[string]backend.Backend {
	m := map[string]backend.Backend{"native": native.New()}
	if b.Docker != nil {
		m["docker"] = b.Docker(cfg.DockerImage)
	}
	return m
}

// inheritedFrom is the first descriptor that the command in args was not handed on purpose.
// Internal commands receive theirs from paddock itself (exec.Cmd's ExtraFiles) and use them in
// the process; only the init, before it re-executes itself to gain its id map, must keep them
// across an exec.
func inheritedFrom(args []string) int {
	if len(args) > 1 && args[1] == "__init" && os.Getenv(boxinit.ReexecEnv) == "1" {
		return boxinit.SyncFD + 1
	}
	return 3
}
