package cli

import (
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/volume"
)

func newVolumeCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage the agents' config volumes (logins, settings), kept across sandboxes",
		Args:  usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newVolumeLsCmd(f), newVolumeInspectCmd(f), newVolumeRmCmd(f))
	return cmd
}

func newVolumeLsCmd(f *Factory) *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:     "ls [--json] [-q]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			list, err := m.Volumes()
			if err != nil {
				return err
			}
			views, err := m.VolumesUse(cmd.Context(), list)
			if err != nil {
				return err
			}
			switch {
			case asJSON:
				return writeJSON(f.IO.Out, views)
			case quiet:
				for _, v := range views {
					fmt.Fprintln(f.IO.Out, v.Name)
				}
				return nil
			case !IsTTY(f.IO.OutFile):
				for _, v := range views {
					fmt.Fprintf(f.IO.Out, "%s\t%s\t%d\t%d\t%s\n", v.Name, v.Agent, v.Size, len(v.UsedBy), v.Path)
				}
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tAGENT\tSIZE\tSANDBOXES\tPATH")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", v.Name, v.Agent, humanSize(v.Size), len(v.UsedBy), v.Path)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print names only")
	return cmd
}

func newVolumeInspectCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME...",
		Short: "Show volumes as a JSON array: path, folders and where sandboxes see them, size, users",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			var list []volume.Volume
			failed := forEach(f, args, func(n string) error {
				v, err := m.Volume(n)
				list = append(list, v)
				return err
			})
			list = slices.DeleteFunc(list, func(v volume.Volume) bool { return v.Name == "" })
			views, err := m.VolumesUse(cmd.Context(), list)
			if err != nil {
				return err
			}
			if len(views) > 0 || failed == nil {
				if err := writeJSON(f.IO.Out, views); err != nil {
					return err
				}
			}
			return failed
		},
	}
}

func newVolumeRmCmd(f *Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [-f] NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove volumes (the agent's login and settings are lost); refused while a sandbox using one runs, unless -f",
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			return forEach(f, args, func(n string) error {
				err := m.RemoveVolume(cmd.Context(), n, force)
				if err == nil {
					fmt.Fprintln(f.IO.Out, n)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "stop the running sandboxes that use it first")
	return cmd
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
