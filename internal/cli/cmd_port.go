package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/sandbox"
)

func newPortCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "port",
		Short: "List, publish and unpublish a sandbox's ports",
		Long: `A published port is a listener on the host (127.0.0.1 unless you name another address) whose
connections reach the port on the sandbox's loopback (127.0.0.1, else ::1): the sandbox gets no
network interface for it. Ports are kept with the sandbox and published at every start; publish
and unpublish take effect at once on a running sandbox. A host port in use is refused.`,
		Example: `  paddock run -p 3000 shell -c 'npm run dev'      # at create or run
  paddock port publish shell-myapp 8080:80         # host 127.0.0.1:8080 -> port 80 inside
  paddock port ls shell-myapp
  paddock port unpublish shell-myapp 8080`,
		Args: usageArgs(cobra.NoArgs),
	}
	var asJSON bool
	ls := &cobra.Command{
		Use:   "ls [--json] SANDBOX",
		Short: "List a sandbox's published ports",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, rec, err := resolveSandbox(f, args[0])
			if err != nil {
				return err
			}
			ports := rec.Spec.Ports
			if ports == nil {
				ports = []sandbox.Port{}
			}
			if asJSON {
				return writeJSON(f.IO.Out, ports)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 3, ' ', 0)
			if IsTTY(f.IO.OutFile) {
				fmt.Fprintln(tw, "HOST\tSANDBOX")
			}
			for _, p := range ports {
				fmt.Fprintf(tw, "%s\t%d\n", p.HostAddr(), p.Port)
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	change := func(use, short string, publish bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " SANDBOX [HOSTADDR:]HOSTPORT[:PORT]...",
			Short: short,
			Args:  usageArgs(cobra.MinimumNArgs(2)),
			RunE: func(cmd *cobra.Command, args []string) error {
				var ports []sandbox.Port
				for _, a := range args[1:] {
					p, err := sandbox.ParsePort(a)
					if err != nil {
						return withCode(ExitUsage, err)
					}
					ports = append(ports, p)
				}
				m, rec, err := resolveSandbox(f, args[0])
				if err != nil {
					return err
				}
				if publish {
					err = m.Publish(cmd.Context(), rec, ports...)
				} else {
					err = m.Unpublish(cmd.Context(), rec, ports...)
				}
				if err != nil {
					return err
				}
				for _, p := range ports {
					if publish {
						fmt.Fprintf(f.IO.Err, "paddock: %s -> port %d of %s\n", p.HostAddr(), p.Port, rec.Name)
					} else {
						fmt.Fprintf(f.IO.Err, "paddock: %s unpublished\n", p.HostAddr())
					}
				}
				return nil
			},
		}
	}
	cmd.AddCommand(ls,
		change("publish", "Publish ports of a sandbox (at once if it runs; kept for its next starts)", true),
		change("unpublish", "Stop publishing ports of a sandbox (by host address)", false))
	return cmd
}
