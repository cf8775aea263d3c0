// Package cli is paddock's command line: the root command, its verbs, output and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/paddockhq/paddock/internal/boxinit"
	"github.com/paddockhq/paddock/internal/config"
	"github.com/paddockhq/paddock/internal/doctor"
	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/fds"
	"github.com/paddockhq/paddock/internal/image"
	"github.com/paddockhq/paddock/internal/runtime"
	"github.com/paddockhq/paddock/internal/runtime/dockeregress"
	"github.com/paddockhq/paddock/internal/runtime/native"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
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
	// UnsafeNoLimits is --unsafe-no-limits (or PADDOCK_UNSAFE_NO_LIMITS=1).
	UnsafeNoLimits bool
	// Backend is --backend.
	Backend string
}

// Backends paddock has.
var backendNames = []string{"native", "docker"}

// chooseBackend decides the backend of new sandboxes: --backend, else PADDOCK_BACKEND, else the
// config file's backend, else the platform's (native on Linux, docker elsewhere). It reports
// whether one was asked for.
func (f *Factory) chooseBackend(cfg config.Config) (string, bool, error) {
	name, from := f.Backend, "--backend"
	if name == "" {
		name, from = os.Getenv("PADDOCK_BACKEND"), "PADDOCK_BACKEND"
	}
	if name == "" {
		name, from = cfg.Backend, cfg.Path+": backend"
	}
	if name == "" {
		if goruntime.GOOS == "linux" {
			return "native", false, nil
		}
		return "docker", false, nil
	}
	if !slices.Contains(backendNames, name) {
		return "", false, fmt.Errorf("%w: %s %q: use native or docker", sandbox.ErrBadInput, from, name)
	}
	return name, true, nil
}

// DockerBackend makes the Docker backend (defaultImage: the configured image of host-template
// sandboxes, "" for the default). The binaries set it: paddock-oci to the real one, paddock to
// one that hands the command to paddock-oci (internal/exe), so that only paddock-oci links the
// Docker client.
var DockerBackend func(defaultImage string) runtime.Backend

// Manager opens the store and the backend on first use.
func (f *Factory) Manager() (*sandbox.Manager, error) {
	if f.manager != nil {
		return f.manager, nil
	}
	home, err := store.DefaultHome()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(home)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("%w (fix or remove it)", err)
	}
	name, chosen, err := f.chooseBackend(cfg)
	if err != nil {
		return nil, err
	}
	nb := native.New()
	nb.RemoveOwned = func(paths ...string) error {
		is, err := image.Open(home)
		if err != nil {
			return err
		}
		return is.RemoveOwned(paths...)
	}
	backends := map[string]runtime.Backend{"native": nb}
	if DockerBackend != nil {
		backends["docker"] = DockerBackend(cfg.DockerImage)
	}
	f.manager = &sandbox.Manager{Store: st, Backend: backends[name], Backends: backends, BackendChosen: chosen,
		Agents:         f.agentSupport(home),
		UnsafeNoLimits: f.UnsafeNoLimits || os.Getenv("PADDOCK_UNSAFE_NO_LIMITS") == "1" || cfg.UnsafeNoLimits, Progress: f.IO.Err,
		DiskDefault: cfg.Disk}
	if err := f.wireInstaller(f.manager, cfg, home); err != nil {
		f.manager = nil
		return nil, err
	}
	return f.manager, nil
}

// Main runs paddock with args (os.Args) and returns the process exit code.
func Main(args []string) int {
	// Nothing paddock did not open itself may reach what it starts (the supervisor, the init,
	// npm, git, and through them the sandbox): see internal/fds.
	if err := fds.Seal(inheritedFrom(args)); err != nil {
		fmt.Fprintln(os.Stderr, "paddock: closing inherited descriptors:", err)
		return ExitError
	}
	if len(args) > 1 {
		switch args[1] {
		case "__init":
			return boxinit.Main()
		case "__egress-connect":
			return egress.ConnectMain(args[2:])
		case "__probe":
			if len(args) < 3 {
				return ExitUsage
			}
			return doctor.ProbeMain(args[2])
		case image.HelperCommand:
			return image.HelperMain(args[2:])
		case "__egress-serve":
			if len(args) < 3 {
				return ExitUsage
			}
			return dockeregress.ServeMain(args[2])
		case "__relay":
			return dockeregress.RelayMain(args[2:])
		case "__egress-link":
			return dockeregress.LinkMain(args[2:])
		case native.HoldCommand:
			return native.HoldMain()
		case "__supervise":
			if len(args) < 3 {
				return ExitUsage
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)).With("sandbox", args[2]))
			return native.SuperviseMain(args[2])
		}
	}
	level := slog.LevelWarn
	if os.Getenv("PADDOCK_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	f := &Factory{IO: IOStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutFile: os.Stdout}}
	root := NewRootCmd(f)
	root.SetArgs(args[1:])
	// Signals keep their default effect (paddock's state survives a killed CLI); while a command
	// runs in a sandbox they are forwarded to it instead.
	err := root.ExecuteContext(context.Background())
	return exitCode(f.IO.Err, unknownCommand(root, err))
}

// inheritedFrom is the first descriptor that the command in args was not handed on purpose.
// Hidden commands receive theirs from paddock itself (exec.Cmd's ExtraFiles) and use them in the
// process; only the init, before it re-executes itself to gain its id map, must keep them across
// an exec.
func inheritedFrom(args []string) int {
	if len(args) > 1 && args[1] == "__init" && os.Getenv(boxinit.ReexecEnv) == "1" {
		return boxinit.SyncFD + 1
	}
	return 3
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

func oneLine(s string) string {
	s = strings.TrimPrefix(s, sandbox.ErrBadInput.Error()+": ")
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

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
	root.PersistentFlags().StringVar(&f.Backend, "backend", "",
		"engine of new sandboxes: native (Linux namespaces; the default on Linux) or docker (a Docker engine; the default elsewhere); also PADDOCK_BACKEND or backend = \"docker\" in "+config.DefaultPath())
	root.PersistentFlags().BoolVar(&f.UnsafeNoLimits, "unsafe-no-limits", false,
		"start sandboxes even where this host cannot limit their memory and CPU (a runaway agent can then starve the host)")
	root.AddCommand(newRunCmd(f), newCreateCmd(f), newExecCmd(f), newLsCmd(f), newInspectCmd(f),
		newStartCmd(f), newStopCmd(f), newRmCmd(f), newVersionCmd(f), newDoctorCmd(f),
		newAgentsCmd(f), newVolumeCmd(f), newSecretCmd(f), newResetCmd(f), newPolicyCmd(f))
	root.AddCommand(newTemplateCmd(f), newManCmd(f), newMoveCmd(f))
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
	msg := err.Error()
	switch {
	case errors.Is(err, runtime.ErrStartFailed):
		return withCode(ExitEngine, err)
	case strings.Contains(msg, "command not found in the sandbox"), strings.Contains(msg, "no such executable"):
		return withCode(ExitNotFound, err)
	case strings.Contains(msg, "cannot execute in the sandbox"):
		return withCode(ExitNotExec, err)
	case errors.Is(err, sandbox.ErrBadInput):
		return withCode(ExitUsage, err)
	}
	return withCode(ExitEngine, err)
}
