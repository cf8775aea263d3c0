package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/credentials"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
	"github.com/paddockhq/paddock/internal/volume"
)

// Home is paddock's state folder (PADDOCK_HOME).
func (f *Factory) Home() (string, error) { return store.DefaultHome() }

// agentSupport wires the agent cache and the volumes under home for the manager.
func (f *Factory) agentSupport(home string) *sandbox.AgentSupport {
	return &sandbox.AgentSupport{
		Installer: &agent.Installer{Root: filepath.Join(home, "agents"), Progress: f.IO.Err, TTY: IsTTY(errFile(f))},
		Volumes:   &volume.Store{Root: filepath.Join(home, "volumes")},
		Warn:      func(msg string) { fmt.Fprintln(f.IO.Err, "paddock: warning: "+oneLine(msg)) },
	}
}

// Credentials opens the secret store.
func (f *Factory) Credentials() (*credentials.Store, error) {
	home, err := f.Home()
	if err != nil {
		return nil, err
	}
	return credentials.Open(filepath.Join(home, "secrets")), nil
}

// agentView is one agent in `paddock agents --json`.
type agentView struct {
	Name string `json:"name"`
	agent.Info
	Volume    string            `json:"volume,omitempty"`
	Installed []agent.Installed `json:"installed"`
}

func newAgentsCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "agents [--json]",
		Short: "List the agents: package, installed versions, default flags, config folders and keys",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := f.Home()
			if err != nil {
				return err
			}
			in := f.agentSupport(home).Installer
			views := []agentView{}
			for _, n := range agent.Names() {
				a, _ := agent.Lookup(n)
				v := agentView{Name: n, Info: a.Info(), Installed: []agent.Installed{}}
				if v.Package != "" {
					v.Installed = append(v.Installed, in.Cached(n)...)
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
				fmt.Fprintln(tw, "NAME\tPACKAGE\tINSTALLED\tFLAGS\tCONFIG\tKEYS")
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
				row := []string{v.Name, pkg, dash(strings.Join(versions, ",")), dash(strings.Join(v.Flags, " ")),
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
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// agentInstallView is the agent part of `paddock inspect`.
type agentInstallView struct {
	Package string `json:"package"`
	// Version is the version the sandbox runs (set at its last start; "" before the first).
	Version string `json:"version"`
	// Pinned is the version asked for with --agent-version ("" follows the latest).
	Pinned     string   `json:"pinned,omitempty"`
	Path       string   `json:"path,omitempty"`
	Volume     string   `json:"volume,omitempty"`
	ConfigDirs []string `json:"config_dirs"`
	// HostConfig is "host" when the host's agent instructions are shown read-only.
	HostConfig string `json:"agent_config,omitempty"`
}

func agentInstallOf(rec *store.Record) *agentInstallView {
	a, err := agent.Lookup(rec.Agent)
	if err != nil || a.Info().Package == "" {
		return nil
	}
	v := &agentInstallView{Package: a.Info().Package, Pinned: rec.AgentVersion, Volume: agent.VolumeName(rec.Agent),
		ConfigDirs: a.Info().ConfigDirs, HostConfig: rec.AgentConfig}
	for _, m := range rec.Spec.Mounts {
		if m.Kind == "agent" {
			v.Version, v.Path = filepath.Base(m.Source), m.Source
		}
	}
	return v
}
