package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

func newPolicyCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Manage what sandboxes may reach on the network (egress rules, audit log)",
		Long: `Every connection a sandbox makes goes through paddock's egress proxy, which allows it only when
a rule does. Rules: an exact host (api.example.com), *.domain, an address or CIDR range
(10.0.0.0/8), each with an optional :port. A deny rule wins. Rules come from the sandbox's preset
(--network locked|balanced|open), the global rules, and the sandbox's own (--sandbox NAME); a
change applies to running sandboxes at once.`,
		Args: usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newPolicyAddCmd(f, false), newPolicyAddCmd(f, true), newPolicyLsCmd(f), newPolicyRmCmd(f),
		newPolicyLogCmd(f), newPolicyCheckCmd(f))
	return cmd
}

func parseRules(args []string) ([]sandbox.Rule, error) {
	var out []sandbox.Rule
	for _, a := range args {
		r, err := sandbox.ParseRule(a)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func newPolicyAddCmd(f *Factory, deny bool) *cobra.Command {
	var sb string
	verb, what := "allow", "Allow"
	if deny {
		verb, what = "deny", "Deny"
	}
	cmd := &cobra.Command{
		Use:   verb + " RULE... [--sandbox NAME]",
		Short: what + " hosts, *.domains or address ranges (optionally :port), for every sandbox or one",
		Example: `  paddock policy ` + verb + ` api.example.com '*.pypi.org' 10.0.0.0/8:5432
  paddock policy ` + verb + ` example.org:8443 --sandbox claude-myproj`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return withCode(ExitUsage, fmt.Errorf("give at least one rule: paddock policy %s HOST|*.DOMAIN|CIDR[:PORT]...", verb))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			rules, err := parseRules(args)
			if err != nil {
				return err
			}
			m, err := f.Manager()
			if err != nil {
				return err
			}
			where, err := m.AddRules(sb, deny, rules...)
			if err != nil {
				return err
			}
			for _, r := range rules {
				fmt.Fprintf(f.IO.Err, "paddock: %s %s for %s\n", map[bool]string{false: "allowed", true: "denied"}[deny], r, where)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sb, "sandbox", "", "the rule is this sandbox's only (default: every sandbox)")
	return cmd
}

func newPolicyLsCmd(f *Factory) *cobra.Command {
	var sb string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls [--sandbox NAME] [--json]",
		Aliases: []string{"list"},
		Short:   "List the rules and where each comes from (preset, global, sandbox)",
		Long: `List the global rules; with --sandbox, every rule in force for that sandbox: its preset's,
the global ones and its own, in the order they are read (a deny rule wins wherever it is).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			views, err := m.Rules(sb)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(f.IO.Out, views)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "ACTION\tRULE\tSOURCE")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Action, v.Rule, v.Source)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&sb, "sandbox", "", "every rule in force for this sandbox")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newPolicyRmCmd(f *Factory) *cobra.Command {
	var sb string
	cmd := &cobra.Command{
		Use:   "rm RULE... [--sandbox NAME]",
		Short: "Remove global rules (or a sandbox's own, with --sandbox)",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return withCode(ExitUsage, errors.New("give the rule to remove, as `paddock policy ls` shows it"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			rules, err := parseRules(args)
			if err != nil {
				return err
			}
			m, err := f.Manager()
			if err != nil {
				return err
			}
			for _, r := range rules {
				if err := m.RemoveRule(sb, r); err != nil {
					return err
				}
				fmt.Fprintf(f.IO.Err, "paddock: removed %s\n", r)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sb, "sandbox", "", "remove from this sandbox's own rules")
	return cmd
}

func newPolicyLogCmd(f *Factory) *cobra.Command {
	var asJSON, follow bool
	cmd := &cobra.Command{
		Use:   "log [NAME] [--json] [--follow]",
		Short: "Show every connection sandboxes made: time, host, port, decision, rule, bytes",
		Long:  "Show a sandbox's audit log (every sandbox's without NAME), oldest first; --follow waits for more.",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			var recs []*store.Record
			if len(args) == 1 {
				rec, err := m.Resolve(args[0])
				if err != nil {
					return withCode(ExitUsage, err)
				}
				recs = []*store.Record{rec}
			} else if recs, _, err = m.Store.List(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var tw *tabwriter.Writer
			print := func(r sandbox.AuditRecord) error {
				if asJSON {
					return writeJSONLine(f.IO.Out, r)
				}
				if tw == nil {
					tw = tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TIME\tSANDBOX\tPROTO\tHOST\tPORT\tDECISION\tRULE\tOUT\tIN\tREASON")
				}
				why := r.Reason
				if r.Credential != "" {
					why = "key: " + r.Credential
				}
				if r.Error != "" {
					why = strings.TrimSpace(why + " " + r.Error)
				}
				// Every field a sandbox could have chosen is escaped: one record, one line, no
				// terminal sequences (the log is written by the proxy, but names come from inside).
				q := sandbox.Printable
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", r.Time.Local().Format("2006-01-02 15:04:05"), q(dash(r.Sandbox)), q(r.Proto),
					q(dash(r.Host)), r.Port, q(r.Decision), q(dash(r.Rule)), r.BytesOut, r.BytesIn, q(dash(why)))
				if follow {
					return tw.Flush()
				}
				return nil
			}
			if err := m.AuditLog(ctx, recs, follow, print); err != nil {
				return err
			}
			if tw != nil {
				tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "wait for new connections")
	return cmd
}

func writeJSONLine(w io.Writer, v any) error { return writeJSONCompact(w, v) }

func newPolicyCheckCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check NAME URL",
		Short: "Would the sandbox be allowed to reach URL (or host:port), and by which rule",
		Long:  "Judge URL as the sandbox's proxy would now, resolving its name. Exit status 0 when allowed, 1 when refused.",
		Example: `  paddock policy check claude-myproj https://api.anthropic.com/v1/messages
  paddock policy check shell-myproj github.com:22`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rec, err := resolveSandbox(f, args[0])
			if err != nil {
				return err
			}
			v, err := m.CheckEgress(cmd.Context(), rec, args[1])
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(f.IO.Out, v); err != nil {
					return err
				}
			} else if v.Decision == "allow" {
				fmt.Fprintf(f.IO.Out, "allow %s:%d by rule %s (%s)\n", v.Host, v.Port, v.Rule, v.Source)
			} else {
				fmt.Fprintf(f.IO.Out, "deny %s:%d: %s\n", sandbox.Printable(v.Host), v.Port, sandbox.Printable(v.Reason))
				if v.AllowCommand != "" {
					fmt.Fprintf(f.IO.Err, "paddock: to allow it: %s\n", v.AllowCommand)
				}
			}
			if v.Decision != "allow" {
				return withCode(ExitError, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeJSONCompact writes v as one line of JSON.
func writeJSONCompact(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
