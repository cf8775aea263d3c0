package mcpserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/paddockhq/paddock/internal/sandbox"
)

const usage = `usage: paddock [--backend native|docker] [--unsafe-no-limits] mcp

Serve paddock's sandboxes to an MCP client (an agent or an editor) over stdin and stdout, until
stdin ends. Register it with the client, e.g. for Claude Code:

  claude mcp add paddock -- paddock mcp

Flags:
  --backend NAME       engine of new sandboxes (default: as for the command line)
  --unsafe-no-limits   start sandboxes even where this host cannot limit their memory and CPU
`

// Main runs `paddock mcp ARGS...` with the binary's settings and returns the exit code.
func Main(args []string, settings sandbox.Settings, version string) int {
	fs := flag.NewFlagSet("paddock mcp", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&settings.Backend, "backend", "", "")
	fs.BoolVar(&settings.UnsafeNoLimits, "unsafe-no-limits", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(usage)
			return 0
		}
		fmt.Fprintf(os.Stderr, "paddock: mcp: %v (see `paddock mcp --help`)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "paddock: mcp takes no arguments, got %q (see `paddock mcp --help`)\n", fs.Arg(0))
		return 2
	}
	// A bad configuration shows now, on stderr, rather than in every tool call.
	if _, err := sandbox.Open(settings); err != nil {
		fmt.Fprintln(os.Stderr, "paddock: "+sandbox.OneLine(err.Error()))
		return 1
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprintln(os.Stderr, "paddock: serving MCP on stdin and stdout: an MCP client starts this command (see `paddock mcp --help`); Ctrl-D ends it")
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	out, err := protocolOut()
	if err != nil {
		fmt.Fprintln(os.Stderr, "paddock: mcp: "+err.Error())
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Serve(ctx, settings, version, os.Stdin, out); err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "paddock: mcp: "+sandbox.OneLine(err.Error()))
		return 1
	}
	return 0
}
