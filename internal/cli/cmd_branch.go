package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/sandbox"
)

func newDiffCmd(f *Factory) *cobra.Command {
	var o sandbox.DiffOptions
	cmd := &cobra.Command{
		Use:   "diff [--stat] [--committed] SANDBOX",
		Short: "Show a branch sandbox's work against the commit it started from",
		Long: `Show what a sandbox in branch mode (paddock run --branch) changed since the commit it started
from: its commits and its uncommitted changes (--committed: its commits only), as git diff does.
Its work is brought into your repository as objects only, every object checked: no ref, file or
index of yours changes.`,
		Example: `  paddock diff claude-myrepo --stat
  paddock diff claude-myrepo | less`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rec, err := resolveSandbox(f, args[0])
			if err != nil {
				return err
			}
			_, err = m.Diff(cmd.Context(), rec, f.IO.Out, o)
			return err
		},
	}
	cmd.Flags().BoolVar(&o.Stat, "stat", false, "a summary of the files changed")
	cmd.Flags().BoolVar(&o.Committed, "committed", false, "its commits only, not its uncommitted changes")
	return cmd
}

func newMergeCmd(f *Factory) *cobra.Command {
	var o sandbox.MergeOptions
	cmd := &cobra.Command{
		Use:   "merge [--ff-only|--no-ff|--rebase] [--include-uncommitted] SANDBOX",
		Short: "Bring a branch sandbox's commits onto your current branch",
		Long: `Merge the commits of a sandbox in branch mode into your current branch, as git merge does
(a fast-forward when possible; --ff-only, --no-ff), or with --rebase as git rebase does: its
commits are replayed onto your branch, which then moves forward to them. --include-uncommitted
brings its uncommitted changes too, as a commit of their own. A merge or rebase that would
conflict changes nothing: it names the files and stops, your tree and index as they were.`,
		Example: `  paddock merge claude-myrepo
  paddock merge --include-uncommitted try-codex
  paddock merge --rebase try-codex`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rec, err := resolveSandbox(f, args[0])
			if err != nil {
				return err
			}
			_, msg, err := m.Merge(cmd.Context(), rec, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IO.Err, "paddock: "+msg)
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.FFOnly, "ff-only", false, "only a fast-forward")
	cmd.Flags().BoolVar(&o.NoFF, "no-ff", false, "a merge commit even when a fast-forward is possible")
	cmd.Flags().BoolVar(&o.Uncommitted, "include-uncommitted", false, "its uncommitted changes too")
	cmd.Flags().BoolVar(&o.Rebase, "rebase", false, "replay its commits onto your branch, then fast-forward")
	cmd.MarkFlagsMutuallyExclusive("ff-only", "no-ff", "rebase")
	return cmd
}
