package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/image"
)

// templates opens the template cache of PADDOCK_HOME, with the hook that finds the sandboxes
// using a template (their spec names it).
func templates(f *Factory) (*image.Store, error) {
	m, err := f.Manager()
	if err != nil {
		return nil, err
	}
	return m.Templates()
}

// templateErr gives bad references and unreadable sources the usage exit code.
func templateErr(err error) error {
	if errors.Is(err, image.ErrBadRef) || errors.Is(err, image.ErrBadSource) {
		return withCode(ExitUsage, err)
	}
	return err
}

func newTemplateCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "template",
		Aliases: []string{"templates", "image"},
		Short:   "Manage templates: OCI images pulled or imported into the shared layer cache",
		Args:    usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newTemplatePullCmd(f), newTemplateImportCmd(f), newTemplateLsCmd(f), newTemplateInspectCmd(f),
		newTemplateRmCmd(f), newTemplatePruneCmd(f))
	return cmd
}

func newTemplatePullCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an image from its registry (Docker Hub short names, private registries via ~/.docker/config.json)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := templates(f)
			if err != nil {
				return err
			}
			img, err := st.Pull(cmd.Context(), args[0], f.IO.Err)
			if err != nil {
				return templateErr(err)
			}
			fmt.Fprintf(f.IO.Out, "%s@%s\n", image.Familiar(img.Ref), img.Digest)
			return nil
		},
	}
}

func newTemplateImportCmd(f *Factory) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "import FILE|DIR|docker://IMAGE",
		Short: "Import a `docker save` tarball, an OCI layout (folder or tarball), a rootfs tarball (--name), or an image of the local Docker engine",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := templates(f)
			if err != nil {
				return err
			}
			img, err := st.Import(cmd.Context(), args[0], name, f.IO.Err)
			if err != nil {
				return templateErr(err)
			}
			fmt.Fprintf(f.IO.Out, "%s@%s\n", image.Familiar(img.Ref), img.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the template's reference (required for a rootfs tarball)")
	return cmd
}

func newTemplateLsCmd(f *Factory) *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:     "ls [--json] [-q]",
		Aliases: []string{"list"},
		Short:   "List templates with their size on disk, shared with other templates or their own",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := templates(f)
			if err != nil {
				return err
			}
			list, err := st.List()
			if err != nil {
				return err
			}
			switch {
			case asJSON:
				return writeJSON(f.IO.Out, list)
			case quiet:
				for _, s := range list {
					fmt.Fprintln(f.IO.Out, s.Name)
				}
				return nil
			case !IsTTY(f.IO.OutFile):
				for _, s := range list {
					fmt.Fprintf(f.IO.Out, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.Digest, s.Size, s.Shared, s.Unique,
						len(s.UsedBy), note(s))
				}
				return nil
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "TEMPLATE\tDIGEST\tSIZE\tSHARED\tUNIQUE\tSANDBOXES\tNOTE")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, short(s.Digest), humanSize(s.Size),
					humanSize(s.Shared), humanSize(s.Unique), len(s.UsedBy), note(s))
			}
			if len(list) > 0 && list[0].Squashed > 0 {
				fmt.Fprintln(f.IO.Err, "note: "+list[0].Owners)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print names only")
	return cmd
}

// note flags templates that cannot start a sandbox as they are, or lost owners.
func note(s image.Summary) string {
	switch {
	case !s.Complete:
		return "incomplete: pull or import again"
	case s.Squashed > 0:
		return fmt.Sprintf("%d owners squashed to root", s.Squashed)
	}
	return "-"
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func newTemplateInspectCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect REF...",
		Short: "Show templates as a JSON array: digest, config, layers and where they are unpacked, owners, users",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := templates(f)
			if err != nil {
				return err
			}
			out := []*image.Details{}
			failed := forEach(f, args, func(a string) error {
				d, err := st.Inspect(a)
				if err == nil {
					out = append(out, d)
				}
				return err
			})
			if err := writeJSON(f.IO.Out, out); err != nil {
				return err
			}
			return failed
		},
	}
}

func newTemplateRmCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "rm REF...",
		Aliases: []string{"remove"},
		Short:   "Remove templates and their layers no other template uses (refused while a sandbox uses one)",
		Args:    usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := templates(f)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if err := st.Remove(args[0]); err != nil {
					return templateErr(err)
				}
				fmt.Fprintln(f.IO.Out, args[0])
				return nil
			}
			return forEach(f, args, func(a string) error {
				err := st.Remove(a)
				if err == nil {
					fmt.Fprintln(f.IO.Out, a)
				}
				return err
			})
		},
	}
}

func newTemplatePruneCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete cached layers that no template uses, and leftovers of interrupted pulls",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := templates(f)
			if err != nil {
				return err
			}
			rep, err := st.Prune()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(f.IO.Out, rep)
			}
			fmt.Fprintf(f.IO.Out, "removed %d layers, freed %s\n", rep.Layers, humanSize(rep.Freed))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
