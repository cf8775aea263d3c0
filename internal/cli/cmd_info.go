package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

func newLsCmd(f *Factory) *cobra.Command {
	var asJSON, quiet, all bool
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list", "ps"},
		Short:   "List sandboxes (running ones; -a for all)",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			entries, bad, err := m.List(cmd.Context(), all)
			if err != nil {
				return err
			}
			for _, c := range bad {
				fmt.Fprintf(f.IO.Err, "paddock: warning: skipping %s: %v (remove it with `paddock rm -f %s`)\n",
					filepath.Base(c.Dir), oneLine(c.Err.Error()), filepath.Base(c.Dir))
			}
			switch {
			case asJSON:
				return writeJSON(f.IO.Out, entries)
			case quiet:
				for _, e := range entries {
					fmt.Fprintln(f.IO.Out, e.ID[:12])
				}
				return nil
			}
			printTable(f.IO.Out, entries, IsTTY(f.IO.OutFile))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print short IDs only")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include stopped sandboxes")
	return cmd
}

func printTable(out io.Writer, entries []sandbox.Entry, tty bool) {
	if !tty {
		for _, e := range entries {
			fmt.Fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID[:12], e.Name, e.Agent, e.Workspace, e.Status, e.Created.Format(time.RFC3339), e.Backend, sessionColumn(e.Session, false), branchColumn(e.Branch))
		}
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tAGENT\tWORKSPACE\tSTATUS\tCREATED\tBACKEND\tSESSION\tBRANCH")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID[:12], e.Name, e.Agent, e.Workspace, e.Status, ago(e.Created), e.Backend, sessionColumn(e.Session, true), branchColumn(e.Branch))
	}
	tw.Flush()
}

// sessionColumn says what a sandbox's background session does: running (and when it last
// printed), exited with its code, or "-".
func sessionColumn(s *sandbox.SessionInfo, human bool) string {
	switch {
	case s == nil:
		return "-"
	case !s.Running:
		return fmt.Sprintf("exited(%d)", s.ExitCode)
	case s.LastOutput.IsZero():
		return "running"
	case human:
		return "running, printed " + ago(s.LastOutput)
	}
	return "running,printed=" + s.LastOutput.Format(time.RFC3339)
}

// branchColumn names a branch sandbox's branch, with its commits ahead and files changed.
func branchColumn(b *sandbox.BranchStatus) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprintf("%s +%d ~%d", b.Name, b.Ahead, b.Changed)
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newInspectCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect SANDBOX...",
		Short: "Show sandboxes' settings and state as a JSON array",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			views := []sandbox.Inspection{}
			err := eachSandbox(f, args, func(m *sandbox.Manager, rec *store.Record) error {
				v, err := m.Inspect(cmd.Context(), rec)
				if err == nil {
					views = append(views, v)
				}
				return err
			})
			if len(views) == 0 && err != nil {
				return err
			}
			if werr := writeJSON(f.IO.Out, views); werr != nil {
				return werr
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", true, "print JSON (the only format)")
	return cmd
}

func newVersionCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print paddock's version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := map[string]string{"version": Version, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH}
			if asJSON {
				return writeJSON(f.IO.Out, v)
			}
			fmt.Fprintf(f.IO.Out, "paddock %s (%s, %s/%s)\n", Version, v["go"], v["os"], v["arch"])
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
