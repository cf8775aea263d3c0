package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/credentials"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

// Home is paddock's state folder (PADDOCK_HOME).
func (f *Factory) Home() (string, error) { return store.DefaultHome() }

// Credentials opens the secret store.
func (f *Factory) Credentials() (*credentials.Store, error) {
	home, err := f.Home()
	if err != nil {
		return nil, err
	}
	return credentials.Open(filepath.Join(home, "secrets")), nil
}

// installedView is one installed version in `paddock agents --json`: where it is, and what its
// install reached and verified.
type installedView struct {
	agent.Installed
	Log        string          `json:"install_log,omitempty"`
	Record     string          `json:"install_record,omitempty"`
	Integrity  string          `json:"integrity,omitempty"`
	Signatures string          `json:"signatures,omitempty"`
	Provenance string          `json:"provenance,omitempty"`
	Hosts      []agent.HostUse `json:"hosts,omitempty"`
	Backend    string          `json:"install_backend,omitempty"`
}

// agentView is one agent in `paddock agents --json`.
type agentView struct {
	Name string `json:"name"`
	agent.Info
	Volume    string          `json:"volume,omitempty"`
	Installed []installedView `json:"installed"`
	// BinaryHosts are the hosts its install may reach beside the registry.
	BinaryHosts []string `json:"install_hosts,omitempty"`
	// LastCheck is when the registry was last asked for its latest version.
	LastCheck time.Time `json:"last_update_check,omitzero"`
	// LastFailed is the last install that was refused or failed, with why.
	LastFailed *agent.InstallRecord `json:"last_failed_install,omitempty"`
}

func newAgentsCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "agents [--json]",
		Short: "List the agents: package, installed versions, default flags, config folders and keys",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			in := m.Agents.Installer
			views := []agentView{}
			for _, n := range agent.Names() {
				a, _ := agent.Lookup(n)
				v := agentView{Name: n, Info: a.Info(), Installed: []installedView{}}
				if v.Package != "" {
					for _, i := range in.Cached(n) {
						iv := installedView{Installed: i}
						if r := in.Record(n, i.Version); r != nil {
							iv.Log, iv.Integrity, iv.Signatures, iv.Hosts, iv.Backend = r.Log, r.Integrity, r.Signatures, r.Hosts, r.Backend
							iv.Record, iv.Provenance = strings.TrimSuffix(r.Log, ".log")+".json", r.Provenance
						}
						v.Installed = append(v.Installed, iv)
					}
					v.BinaryHosts = agent.BinaryHosts
					v.LastCheck = in.LastChecked(n)
					v.LastFailed = in.LastFailed(n)
				}
				if len(v.ConfigDirs) > 0 {
					v.Volume = agent.VolumeName(n)
				}
				for _, p := range []*[]string{&v.Flags, &v.ConfigDirs, &v.Env} {
					if *p == nil {
						*p = []string{}
					}
				}
				if v.Keys == nil {
					v.Keys = []agent.Key{}
				}
				views = append(views, v)
			}
			if asJSON {
				return writeJSON(f.IO.Out, views)
			}
			tty := IsTTY(f.IO.OutFile)
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 3, ' ', 0)
			sep := "\t"
			if tty {
				fmt.Fprintln(tw, "NAME\tPACKAGE\tINSTALLED\tVERIFIED\tFLAGS\tCONFIG\tKEYS")
			}
			for _, v := range views {
				var versions, keys []string
				for _, i := range v.Installed {
					versions = append(versions, i.Version)
				}
				for _, k := range v.Keys {
					via := k.Env
					if via == "" {
						via = k.Helper
					}
					keys = append(keys, k.Secret+"="+via)
				}
				pkg := v.Package
				if pkg == "" {
					pkg = "(template)"
				}
				sig := ""
				if len(v.Installed) > 0 {
					sig = agent.ShortChecks(v.Installed[0].Signatures)
				}
				row := []string{v.Name, pkg, dash(strings.Join(versions, ",")), dash(sig), dash(strings.Join(v.Flags, " ")),
					dash(strings.Join(v.ConfigDirs, ",")), dash(strings.Join(keys, ","))}
				if tty {
					fmt.Fprintln(tw, strings.Join(row, sep))
				} else {
					fmt.Fprintln(f.IO.Out, strings.Join(row, sep))
				}
			}
			if tty {
				tw.Flush()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(newAgentsUpdateCmd(f))
	return cmd
}

func newAgentsUpdateCmd(f *Factory) *cobra.Command {
	var background bool
	cmd := &cobra.Command{
		Use:   "update [AGENT...]",
		Short: "Install the latest version of agents now (default: every agent with a version installed)",
		Args:  usageArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			in := m.Agents.Installer
			if background {
				in.Progress = nil
			}
			names := args
			if len(names) == 0 {
				for _, n := range agent.Names() {
					if a, _ := agent.Lookup(n); a.Info().Package != "" && len(in.Cached(n)) > 0 {
						names = append(names, n)
					}
				}
				if len(names) == 0 {
					return fmt.Errorf("%w: no agent is installed yet; name one: paddock agents update claude", sandbox.ErrBadInput)
				}
			}
			for _, n := range names {
				a, err := agent.Lookup(n)
				if err != nil {
					return fmt.Errorf("%w: %v", sandbox.ErrBadInput, err)
				}
				if a.Info().Package == "" {
					return fmt.Errorf("%w: agent %s comes with the template: nothing to update", sandbox.ErrBadInput, n)
				}
			}
			return forEach(f, names, func(n string) error {
				a, _ := agent.Lookup(n)
				inst, installed, err := in.Update(cmd.Context(), a, m.Backend.Name())
				if err != nil {
					if prev := in.Cached(n); len(prev) > 0 {
						return fmt.Errorf("%w; %s stays at %s", err, n, prev[0].Version)
					}
					return err
				}
				state := "up to date"
				if installed {
					state = "installed"
				}
				fmt.Fprintf(f.IO.Out, "%s\t%s\t%s\n", n, inst.Version, state)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&background, "background", false, "")
	cmd.Flags().MarkHidden("background")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
