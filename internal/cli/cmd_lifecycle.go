package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

func newCreateCmd(f *Factory) *cobra.Command {
	var opts sandboxFlags
	cmd := &cobra.Command{
		Use:   "create [flags] AGENT [WORKSPACE [EXTRA[:ro]]...]",
		Short: "Create the sandbox for a folder without starting an agent",
		Example: `  paddock create shell                       # for the current folder
  paddock create shell ~/proj ~/docs:ro      # extra workspaces appear at their own paths`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := agent.Lookup(args[0]); err != nil {
				return fmt.Errorf("%w: %v", sandbox.ErrBadInput, err)
			}
			m, err := f.Manager()
			if err != nil {
				return err
			}
			o, err := opts.options(cmd.Flags(), args[0], args[1:])
			if err != nil {
				return err
			}
			warnDockerSocket(f, o)
			rec, created, err := m.Ensure(cmd.Context(), o)
			if err != nil {
				return err
			}
			if created {
				// Install the agent now: a bad version or a missing Node.js shows here, and leaves nothing.
				if err := m.Prepare(cmd.Context(), rec); err != nil {
					m.Remove(context.WithoutCancel(cmd.Context()), rec, true)
					return err
				}
			}
			if !created && !o.Recreate {
				fmt.Fprintf(f.IO.Err, "paddock: sandbox %s already exists for %s\n", rec.Name, rec.Workspace)
			}
			fmt.Fprintln(f.IO.Out, rec.Name)
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	opts.register(cmd.Flags())
	return cmd
}

type execOptions struct {
	interactive, tty, detach bool
	env                      []string
	workdir, user            string
}

func newExecCmd(f *Factory) *cobra.Command {
	var opts execOptions
	cmd := &cobra.Command{
		Use:   "exec [flags] SANDBOX COMMAND [ARGS...]",
		Short: "Run a command in a sandbox (starting it if it is stopped)",
		Example: `  paddock exec shell-proj git status
  paddock exec -it shell-proj bash
  paddock exec -u 1000 -w /tmp -e DEBUG=1 shell-proj env`,
		Args: usageArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), f, &opts, args[0], args[1:])
		},
	}
	cmd.Flags().SetInterspersed(false)
	fl := cmd.Flags()
	fl.BoolVarP(&opts.interactive, "interactive", "i", false, "keep stdin attached")
	fl.BoolVarP(&opts.tty, "tty", "t", false, "allocate a terminal")
	fl.StringArrayVarP(&opts.env, "env", "e", nil, "set KEY=VAL, or KEY to pass the host's value (repeatable)")
	fl.StringVarP(&opts.workdir, "workdir", "w", "", "working folder inside the sandbox (default: the workspace)")
	fl.StringVarP(&opts.user, "user", "u", "", "user inside the sandbox: name, uid or uid:gid (default: the template's USER, else root)")
	return cmd
}

func runExec(ctx context.Context, f *Factory, opts *execOptions, ref string, argv []string) error {
	m, err := f.Manager()
	if err != nil {
		return execExitCode(err)
	}
	env, err := sandbox.ParseEnv(opts.env, nil)
	if err != nil {
		return execExitCode(err)
	}
	if opts.tty && !IsTTY(f.IO.In) {
		return withCode(ExitEngine, errors.New("-t needs a terminal on stdin; drop -t to run without one"))
	}
	rec, err := m.Resolve(ref)
	if err != nil {
		return execExitCode(err)
	}
	req := sandbox.ExecRequest{Argv: argv, Env: append(sandbox.TermEnv(opts.tty), env...), Dir: opts.workdir,
		User: opts.user, TTY: opts.tty, Stdin: opts.interactive}
	code, err := m.Exec(ctx, rec, req, execIO(f))
	if err != nil {
		return execExitCode(err)
	}
	if code != 0 {
		return withCode(code, nil)
	}
	return nil
}

func newStartCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "start SANDBOX...",
		Short: "Start stopped sandboxes",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachSandbox(f, args, func(m *sandbox.Manager, rec *store.Record) error {
				if err := m.Up(cmd.Context(), rec); err != nil {
					return err
				}
				fmt.Fprintln(f.IO.Out, rec.Name)
				return nil
			})
		},
	}
}

func newStopCmd(f *Factory) *cobra.Command {
	var grace int
	cmd := &cobra.Command{
		Use:   "stop [flags] SANDBOX...",
		Short: "Stop sandboxes; their state stays until rm",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachSandbox(f, args, func(m *sandbox.Manager, rec *store.Record) error {
				if err := m.Stop(cmd.Context(), rec, time.Duration(grace)*time.Second); err != nil {
					return err
				}
				fmt.Fprintln(f.IO.Out, rec.Name)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&grace, "time", "t", 10, "seconds to wait for processes to exit before killing them")
	return cmd
}

func newRmCmd(f *Factory) *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use:   "rm [-f] SANDBOX... | --all",
		Short: "Remove sandboxes and their private state (workspaces are never touched)",
		Args: usageArgs(func(c *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return errors.New("name sandboxes or pass --all, not both")
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			if all {
				recs, _, err := m.Store.List()
				if err != nil {
					return err
				}
				for _, r := range recs {
					args = append(args, r.ID)
				}
			}
			return forEach(f, args, func(ref string) error {
				if !force {
					// A branch sandbox's work not merged yet is asked about (refused without a terminal).
					if rec, err := m.Resolve(ref); err == nil && rec.Branch != nil {
						what, err := m.UnmergedWork(cmd.Context(), rec)
						if err != nil {
							return fmt.Errorf("%w (rm -f removes it all the same)", err)
						}
						if what != "" {
							if !IsTTY(f.IO.In) {
								return withCode(ExitUsage, fmt.Errorf("%s: paddock merge %s brings it in; rm -f drops it", what, rec.Name))
							}
							fmt.Fprintf(f.IO.Err, "paddock: %s. Drop it? [y/N] ", what)
							line, _ := bufio.NewReader(f.IO.In).ReadString('\n')
							if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
								return withCode(ExitUsage, fmt.Errorf("kept %s", rec.Name))
							}
						}
					}
				}
				name, err := m.RemoveRef(cmd.Context(), ref, force)
				if err == nil {
					fmt.Fprintln(f.IO.Out, name)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "stop running sandboxes first; also remove sandboxes whose record is corrupt")
	cmd.Flags().BoolVar(&all, "all", false, "remove every sandbox")
	return cmd
}

// eachSandbox applies fn to every named sandbox (see forEach).
func eachSandbox(f *Factory, refs []string, fn func(*sandbox.Manager, *store.Record) error) error {
	m, err := f.Manager()
	if err != nil {
		return err
	}
	return forEach(f, refs, func(ref string) error {
		rec, err := m.Resolve(ref)
		if err != nil {
			return err
		}
		return fn(m, rec)
	})
}

// forEach applies fn to each name: a failure is one line on stderr and the others go on; the
// command fails (exit 1) if any did.
func forEach(f *Factory, names []string, fn func(name string) error) error {
	failed := 0
	for _, n := range names {
		if err := fn(n); err != nil {
			fmt.Fprintln(f.IO.Err, "paddock: "+oneLine(err.Error()))
			failed++
		}
	}
	if failed > 0 {
		return withCode(ExitError, nil)
	}
	return nil
}

func newMoveCmd(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "move SANDBOX [FOLDER]",
		Aliases: []string{"mv"},
		Short:   "Point a sandbox at its workspace's new path after the folder was moved or renamed (default: this folder), keeping its state",
		Example: `  mv ~/code/app ~/code/webapp && cd ~/code/webapp
  paddock move claude-app          # the sandbox now works in ~/code/webapp, with its home, installs and caches`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rec, err := resolveSandbox(f, args[0])
			if err != nil {
				return err
			}
			dir := ""
			if len(args) == 2 {
				dir = args[1]
			}
			moved, err := m.Move(cmd.Context(), rec, dir, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Err, "paddock: %s now works in %s\n", moved.Name, moved.Workspace)
			fmt.Fprintln(f.IO.Out, moved.Name)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "allow / or your home folder as the workspace")
	return cmd
}
