package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func newResetCmd(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "reset [--force]",
		Short: "Remove all paddock state: sandboxes (stopped first), volumes, secrets, the agent and template caches, the egress CA and global rules; never workspaces",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := f.Home()
			if err != nil {
				return err
			}
			if _, err := os.Stat(home); errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(f.IO.Err, "paddock: nothing to reset: %s does not exist\n", home)
				return nil
			}
			m, err := f.Manager()
			if err != nil {
				return err
			}
			plan, err := m.PlanReset()
			if err != nil {
				return err
			}
			summary := plan.Summary()
			if !force {
				if !IsTTY(f.IO.In) {
					return withCode(ExitUsage, errors.New("reset removes all paddock state and needs a confirmation: run it in a terminal, or pass --force"))
				}
				fmt.Fprintf(f.IO.Err, "This removes all paddock state in %s: %s. Running sandboxes are stopped first; workspaces are not touched.\nType yes to continue: ", home, summary)
				line, _ := bufio.NewReader(f.IO.In).ReadString('\n')
				if strings.TrimSpace(line) != "yes" {
					return withCode(ExitError, errors.New("reset cancelled; nothing was removed"))
				}
			}
			if err := m.Reset(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Err, "paddock: removed %s from %s\n", summary, home)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "do not ask for confirmation")
	return cmd
}
