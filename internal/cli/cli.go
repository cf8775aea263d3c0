// Package cli is paddock's command line: the root command, its verbs, output and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/paddockhq/paddock/internal/config"
	"github.com/paddockhq/paddock/internal/sandbox"
)

// Exit codes of paddock itself; run and exec otherwise pass the command's own code through.
const (
	ExitError    = 1   // a paddock command failed
	ExitUsage    = 2   // bad flags or arguments
	ExitEngine   = 125 // run/exec: paddock could not run the command
	ExitNotExec  = 126 // run/exec: the command cannot be executed
	ExitNotFound = 127 // run/exec: the command was not found
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "0.1.0-dev"

// IOStreams are the command's streams; status goes to Err, data to Out.
type IOStreams struct {
	In       *os.File
	Out, Err io.Writer
	OutFile  *os.File
}

// IsTTY reports whether f is a terminal.
func IsTTY(f *os.File) bool { return f != nil && term.IsTerminal(int(f.Fd())) }

// exitError carries an exit code decided by a command (the agent's, or a usage error).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// Factory hands commands their dependencies, lazily.
type Factory struct {
	IO      IOStreams
	manager *sandbox.Manager
	// Settings are the binary's (its backends and fetcher) and the root command's flags.
	Settings sandbox.Settings
	// Manual writes the manual pages (see Manual).
	Manual Manual
}

// Manual writes paddock's manual pages from root: paddock(1) on out when dir is "", else every
// page into the folder dir. The generator is heavy to link (see internal/manpage): the binary
// gives its own, or one that hands the command over to the binary that has it.
type Manual func(root *cobra.Command, version, dir string, out io.Writer) error

// Manager opens the store and the backends on first use.
func (f *Factory) Manager() (*sandbox.Manager, error) {
	if f.manager != nil {
		return f.manager, nil
	}
	s := f.Settings
	s.Progress, s.ProgressTTY = f.IO.Err, IsTTY(errFile(f))
	m, err := sandbox.Open(s)
	if err != nil {
		return nil, err
	}
	f.manager = m
	return m, nil
}

// Main runs paddock's command line with args (os.Args) and the binary's settings (see
// cmd/internal/wire), and returns the process exit code.
func Main(args []string, s sandbox.Settings, man Manual) int {
	level := slog.LevelWarn
	if os.Getenv("PADDOCK_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	f := &Factory{IO: IOStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutFile: os.Stdout}, Settings: s, Manual: man}
	root := NewRootCmd(f)
	root.SetArgs(args[1:])
	// Signals keep their default effect (paddock's state survives a killed CLI); while a command
	// runs in a sandbox they are forwarded to it instead.
	err := root.ExecuteContext(context.Background())
	return exitCode(f.IO.Err, unknownCommand(root, err))
}

// exitCode prints err as one line and decides the exit code.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "paddock: "+oneLine(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "paddock: "+oneLine(err.Error()))
	if errors.Is(err, sandbox.ErrBadInput) {
		return ExitUsage
	}
	return ExitError
}

func oneLine(s string) string { return sandbox.OneLine(s) }

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "paddock",
		Short: "Run AI coding agents in isolated, persistent sandboxes tied to a workspace folder",
		Long: `paddock runs an agent (or a shell) in a sandbox for the current folder: the folder is
shared at its own path, everything else the agent does stays behind the sandbox's fence.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(ExitUsage, fmt.Errorf("%v (see `%s --help`)", err, c.CommandPath()))
	})
	root.Version = Version
	root.Flags().Bool("version", false, "print paddock's version") // no -v: that is run's --volume
	root.SetVersionTemplate("paddock {{.Version}}\n")
	root.DisableSuggestions = true // unknownCommand makes its own, on one line
	root.SuggestionsMinimumDistance = 2
	root.PersistentFlags().StringVar(&f.Settings.Backend, "backend", "",
		"engine of new sandboxes: native (Linux namespaces; the default on Linux) or docker (a Docker engine; the default elsewhere); also PADDOCK_BACKEND or backend = \"docker\" in "+config.DefaultPath())
	root.PersistentFlags().BoolVar(&f.Settings.UnsafeNoLimits, "unsafe-no-limits", false,
		"start sandboxes even where this host cannot limit their memory and CPU (a runaway agent can then starve the host)")
	root.AddCommand(newRunCmd(f), newCreateCmd(f), newExecCmd(f), newLsCmd(f), newInspectCmd(f),
		newStartCmd(f), newStopCmd(f), newRmCmd(f), newVersionCmd(f), newDoctorCmd(f),
		newAgentsCmd(f), newVolumeCmd(f), newSecretCmd(f), newResetCmd(f), newPolicyCmd(f))
	root.AddCommand(newTemplateCmd(f), newManCmd(f), newMoveCmd(f), newMCPCmd())
	root.AddCommand(newCpCmd(f))
	root.AddCommand(newAttachCmd(f), newLogsCmd(f), newPortCmd(f), newDiffCmd(f), newMergeCmd(f))
	addCompletion(root)
	return root
}

// usageArgs wraps a cobra positional-args check so its error is a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return withCode(ExitUsage, fmt.Errorf("%s: %v (see `%s --help`)", c.CommandPath(), err, c.CommandPath()))
		}
		return nil
	}
}

// execExitCode maps errors of run/exec to docker-like codes.
func execExitCode(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, sandbox.ErrStartFailed):
		return withCode(ExitEngine, err)
	case errors.Is(err, sandbox.ErrNotFound):
		return withCode(ExitNotFound, err)
	case errors.Is(err, sandbox.ErrNotExecutable):
		return withCode(ExitNotExec, err)
	case errors.Is(err, sandbox.ErrBadInput):
		return withCode(ExitUsage, err)
	}
	return withCode(ExitEngine, err)
}
