package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/session"
	"github.com/paddockhq/paddock/internal/store"
)

// resolveSandbox opens the manager and finds the sandbox ref names (a bad name is a usage error).
func resolveSandbox(f *Factory, ref string) (*sandbox.Manager, *store.Record, error) {
	m, err := f.Manager()
	if err != nil {
		return nil, nil, err
	}
	rec, err := m.Resolve(ref)
	if err != nil {
		return nil, nil, withCode(ExitUsage, err)
	}
	return m, rec, nil
}

// terminalSize is the caller's terminal's size, for a session started from it (24x80 without one).
func terminalSize(f *Factory) sandbox.SessionSize {
	for _, fd := range []int{int(f.IO.OutFile.Fd()), int(errFile(f).Fd()), int(f.IO.In.Fd())} {
		if w, h, err := term.GetSize(fd); err == nil && w > 0 && h > 0 {
			return sandbox.SessionSize{Rows: uint16(h), Cols: uint16(w)}
		}
	}
	return sandbox.SessionSize{Rows: 24, Cols: 80}
}

func newAttachCmd(f *Factory) *cobra.Command {
	var o sandbox.AttachOptions
	cmd := &cobra.Command{
		Use:   "attach [--detach-keys KEYS] SANDBOX",
		Short: "Join a sandbox's background session (paddock run -d)",
		Long: `Join the agent's session that paddock run -d started: its screen, your keyboard (Ctrl-C too goes
to the agent). Detach with Ctrl-P Ctrl-Q (--detach-keys to change: docker's notation, e.g.
ctrl-a,d) and the agent keeps working; several terminals may be attached at once, and the
session takes the size of the one that attached or resized last. When the session ends, attach
ends with its exit code.`,
		Example: `  paddock run -d claude 'add retries to the fetcher'
  paddock attach claude-myrepo
  paddock attach --detach-keys ctrl-a,d claude-myrepo`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rec, err := resolveSandbox(f, args[0])
			if err != nil {
				return err
			}
			if !IsTTY(f.IO.In) {
				return withCode(ExitUsage, errors.New("paddock attach needs a terminal: read the session's output with paddock logs"))
			}
			res, err := m.Attach(cmd.Context(), rec, f.IO.In, f.IO.OutFile, o)
			if err != nil {
				return err
			}
			switch {
			case res.Detached:
				fmt.Fprintf(f.IO.Err, "\r\npaddock: detached from %s; its session goes on (paddock attach %s)\r\n", rec.Name, rec.Name)
			case res.Ended:
				fmt.Fprintf(f.IO.Err, "\r\npaddock: the session of %s ended (exit code %d)\r\n", rec.Name, res.Code)
				if res.Code != 0 {
					return withCode(res.Code, nil)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.DetachKeys, "detach-keys", "", "keys that detach, docker's notation (default "+session.DefaultDetachKeys+")")
	return cmd
}

func newLogsCmd(f *Factory) *cobra.Command {
	var o sandbox.LogsOptions
	cmd := &cobra.Command{
		Use:   "logs [-f] [--tail N] SANDBOX",
		Short: "Print what a sandbox's background session printed",
		Long: `Print the output of the agent's session that paddock run -d started, as its terminal received
it (the last MiB is kept while the sandbox runs), without attaching to it. -f follows what it
prints next until it ends (Ctrl-C stops following; the session goes on).`,
		Example: `  paddock logs claude-myrepo
  paddock logs -f --tail 20 claude-myrepo`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rec, err := resolveSandbox(f, args[0])
			if err != nil {
				return err
			}
			return m.Logs(cmd.Context(), rec, f.IO.Out, o)
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "follow what the session prints next")
	cmd.Flags().IntVarP(&o.Tail, "tail", "n", -1, "print only the last N lines")
	return cmd
}
