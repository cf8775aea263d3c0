package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/fsutil"
	"github.com/paddockhq/paddock/internal/image"
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
			recs, bad, err := m.Store.List()
			if err != nil {
				return err
			}
			vols, _ := m.Agents.Volumes.List()
			cs, err := f.Credentials()
			if err != nil {
				return err
			}
			secrets, _ := cs.List()
			summary := fmt.Sprintf("%s, %s (agent logins and settings), %s, the agent cache and the template cache",
				count(len(recs)+len(bad), "sandbox", "sandboxes"), count(len(vols), "volume", "volumes"), count(len(secrets), "secret", "secrets"))
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
			unlock, err := m.Store.Lock()
			if err != nil {
				return err
			}
			defer unlock()
			var failed []string
			for _, r := range recs {
				if err := m.Stop(cmd.Context(), r, 5*time.Second); err != nil {
					failed = append(failed, fmt.Sprintf("stopping %s: %v", r.Name, err))
					continue
				}
				if err := m.For(r).Remove(cmd.Context(), m.Sandbox(r)); err != nil {
					failed = append(failed, fmt.Sprintf("removing %s: %v", r.Name, err))
				}
			}
			for _, c := range bad {
				if err := fsutil.RemoveTree(c.Dir); err != nil {
					failed = append(failed, err.Error())
				}
			}
			// The template cache: as an ordinary user its layers hold files of subordinate ids,
			// which only the store's own user namespace can delete.
			images := filepath.Join(home, "images")
			if _, err := os.Lstat(images); err == nil && os.Geteuid() != 0 {
				if is, err := image.Open(home); err == nil {
					if err := is.RemoveOwned(images); err != nil {
						failed = append(failed, fmt.Sprintf("removing the template cache: %v", err))
					}
				}
			}
			for _, d := range []string{"volumes", "secrets", "agents", "egress", "install", "images", "doctor"} {
				if err := fsutil.RemoveTree(filepath.Join(home, d)); err != nil {
					failed = append(failed, err.Error())
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("reset incomplete: %s", strings.Join(failed, "; "))
			}
			// The sandboxes folder holds only lock files now; the state folder goes if nothing else is in it.
			if err := fsutil.RemoveTree(filepath.Join(home, "sandboxes")); err != nil {
				return err
			}
			os.Remove(home)
			fmt.Fprintf(f.IO.Err, "paddock: removed %s from %s\n", summary, home)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "do not ask for confirmation")
	return cmd
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
