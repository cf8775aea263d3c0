package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/config"
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

// wireInstaller gives the agent installer its install sandboxes (the manager's engine), the
// update interval (PADDOCK_AGENT_UPDATES, else agent_updates in the config file) and the
// background update.
func (f *Factory) wireInstaller(m *sandbox.Manager, cfg config.Config, home string) error {
	in := m.Agents.Installer
	in.Sandbox = m.InstallSandbox()
	in.AuthTokens = cfg.AgentNPMAuth == "true"
	every, from := os.Getenv("PADDOCK_AGENT_UPDATES"), "PADDOCK_AGENT_UPDATES"
	if every == "" {
		every, from = cfg.AgentUpdates, cfg.Path+": agent_updates"
	}
	switch every {
	case "":
	case "off", "never", "0":
		in.UpdateEvery = -1
	default:
		d, err := time.ParseDuration(every)
		if err != nil || d <= 0 {
			return fmt.Errorf("%w: %s %q: give a duration such as 24h or 12h, or off", sandbox.ErrBadInput, from, every)
		}
		in.UpdateEvery = d
	}
	in.Background = func(name, backend string) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		dir := filepath.Join(in.Root, name, ".log")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		logf, err := os.OpenFile(filepath.Join(dir, "update.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer logf.Close()
		fmt.Fprintf(logf, "%s paddock agents update %s (background)\n", time.Now().UTC().Format(time.RFC3339), name)
		cmd := exec.Command(exe, "--backend", backend, "agents", "update", "--background", name)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = detached()
		if err := cmd.Start(); err != nil {
			return err
		}
		return cmd.Process.Release()
	}
	return nil
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
			home, err := f.Home()
			if err != nil {
				return err
			}
			in := f.agentSupport(home).Installer
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
			var agents []agent.Agent
			for _, n := range names {
				a, err := agent.Lookup(n)
				if err != nil {
					return fmt.Errorf("%w: %v", sandbox.ErrBadInput, err)
				}
				if a.Info().Package == "" {
					return fmt.Errorf("%w: agent %s comes with the template: nothing to update", sandbox.ErrBadInput, n)
				}
				agents = append(agents, a)
			}
			var failed error
			for _, a := range agents {
				inst, installed, err := in.Update(cmd.Context(), a, m.Backend.Name())
				if err != nil {
					msg := oneLine(err.Error())
					if prev := in.Cached(a.Name()); len(prev) > 0 {
						msg += "; " + a.Name() + " stays at " + prev[0].Version
					}
					fmt.Fprintln(f.IO.Err, "paddock: "+msg)
					failed = errors.Join(failed, err)
					continue
				}
				state := "up to date"
				if installed {
					state = "installed"
				}
				fmt.Fprintf(f.IO.Out, "%s\t%s\t%s\n", a.Name(), inst.Version, state)
			}
			if failed != nil {
				return withCode(ExitError, nil)
			}
			return nil
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
