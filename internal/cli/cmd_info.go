package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	goruntime "runtime"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/runtime"
	"github.com/paddockhq/paddock/internal/runtime/dockerinfo"
	"github.com/paddockhq/paddock/internal/runtime/native"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

// lsEntry is one row of `paddock ls`, also its JSON form.
type lsEntry struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Agent     string    `json:"agent"`
	Workspace string    `json:"workspace"`
	Status    string    `json:"status"`
	Created   time.Time `json:"created"`
	Backend   string    `json:"backend"`
}

func newLsCmd(f *Factory) *cobra.Command {
	var asJSON, quiet, all bool
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list", "ps"},
		Short:   "List sandboxes (running ones; -a for all)",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := f.Manager()
			if err != nil {
				return err
			}
			recs, bad, err := m.Store.List()
			if err != nil {
				return err
			}
			for _, c := range bad {
				fmt.Fprintf(f.IO.Err, "paddock: warning: skipping %s: %v (remove it with `paddock rm -f %s`)\n",
					filepath.Base(c.Dir), oneLine(c.Err.Error()), filepath.Base(c.Dir))
			}
			entries := []lsEntry{}
			for _, r := range recs {
				st, err := m.For(r).State(cmd.Context(), m.Sandbox(r))
				if err != nil {
					return err
				}
				if !all && st.Status != "running" {
					continue
				}
				entries = append(entries, lsEntry{ID: r.ID, Name: r.Name, Agent: r.Agent, Workspace: r.Workspace,
					Status: st.Status, Created: r.Created, Backend: backendOf(r)})
			}
			switch {
			case asJSON:
				return writeJSON(f.IO.Out, entries)
			case quiet:
				for _, e := range entries {
					fmt.Fprintln(f.IO.Out, e.ID[:12])
				}
				return nil
			}
			printTable(f.IO.Out, entries, IsTTY(f.IO.OutFile))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print short IDs only")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "include stopped sandboxes")
	return cmd
}

func printTable(out io.Writer, entries []lsEntry, tty bool) {
	if !tty {
		for _, e := range entries {
			fmt.Fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID[:12], e.Name, e.Agent, e.Workspace, e.Status, e.Created.Format(time.RFC3339), e.Backend)
		}
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tAGENT\tWORKSPACE\tSTATUS\tCREATED\tBACKEND")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID[:12], e.Name, e.Agent, e.Workspace, e.Status, ago(e.Created), e.Backend)
	}
	tw.Flush()
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// inspectView is the JSON that `paddock inspect` prints for one sandbox.
type inspectView struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Agent     string            `json:"agent"`
	Backend   string            `json:"backend"`
	Created   time.Time         `json:"created"`
	Template  string            `json:"template"`
	Image     *inspectImage     `json:"template_image,omitempty"`
	Workspace string            `json:"workspace"`
	Workdir   string            `json:"workdir"`
	Mounts    inspectMounts     `json:"mounts"`
	Env       []string          `json:"env"`
	Limits    inspectLimits     `json:"limits"`
	State     runtime.State     `json:"state"`
	Paths     map[string]string `json:"paths"`
	// AgentInstall is the installed agent package, for agents that come from npm.
	AgentInstall *agentInstallView `json:"agent_install,omitempty"`
	// DockerSocket: the Docker engine's socket is at /var/run/docker.sock inside.
	DockerSocket bool `json:"docker_socket"`
	// Network is the sandbox's egress: its preset and the proxy's port inside (null: loopback only).
	Network *inspectNetwork `json:"network"`
	// Differences says how this sandbox differs from one on the native engine.
	Differences []string `json:"differences,omitempty"`
}

type inspectNetwork struct {
	Preset    string `json:"preset"`
	Proxy     string `json:"proxy"` // inside the sandbox
	AuditLog  string `json:"audit_log"`
	RulesFile string `json:"rules_file"` // the sandbox's own rules
}

// inspectImage is the OCI template a sandbox was made from.
type inspectImage struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	User   string `json:"user,omitempty"`
}

type inspectMounts struct {
	Workspace  runtime.Mount   `json:"workspace"`
	Extra      []runtime.Mount `json:"extra"`
	Volumes    []runtime.Mount `json:"volumes"`
	Persistent []runtime.Mount `json:"persistent"`
}

type inspectLimits struct {
	Requested   runtime.Limits       `json:"requested"`
	Enforced    *runtime.Enforcement `json:"enforced,omitempty"`
	DefaultPids int64                `json:"default_pids"`
	// Disk is the sandbox's disk limit (what it writes outside the workspace) and its use, or
	// why it has none.
	Disk runtime.DiskStatus `json:"disk"`
	// UnsafeNoLimits: the sandbox was started with --unsafe-no-limits, and keeps that choice.
	UnsafeNoLimits bool `json:"unsafe_no_limits"`
}

// backendOf is the backend of a record (records from before backends were recorded: native).
func backendOf(r *store.Record) string {
	if r.Backend == "" {
		return "native"
	}
	return r.Backend
}

func newInspectCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect SANDBOX...",
		Short: "Show sandboxes' settings and state as a JSON array",
		Args:  usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			views := []inspectView{}
			err := eachSandbox(f, args, func(m *sandbox.Manager, rec *store.Record) error {
				v, err := inspect(cmd.Context(), m, rec)
				if err == nil {
					views = append(views, v)
				}
				return err
			})
			if len(views) == 0 && err != nil {
				return err
			}
			if werr := writeJSON(f.IO.Out, views); werr != nil {
				return werr
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", true, "print JSON (the only format)")
	return cmd
}

func inspect(ctx context.Context, m *sandbox.Manager, rec *store.Record) (inspectView, error) {
	sb := m.Sandbox(rec)
	st, err := m.For(rec).State(ctx, sb)
	if err != nil {
		return inspectView{}, err
	}
	v := inspectView{ID: rec.ID, Name: rec.Name, Agent: rec.Agent, Backend: rec.Backend, Created: rec.Created,
		Template: rec.Spec.Template, Workspace: rec.Workspace, Workdir: rec.Spec.Workdir, Env: rec.Spec.Env,
		State: st, Paths: map[string]string{"state": sb.Dir}}
	if im := rec.Spec.Image; im != nil {
		v.Image = &inspectImage{Ref: im.Ref, Digest: im.Digest, User: im.User}
	}
	if eg := rec.Spec.Egress; eg != nil {
		v.Network = &inspectNetwork{Preset: eg.Policy, Proxy: fmt.Sprintf("127.0.0.1:%d", eg.ProxyPort),
			AuditLog: egress.AuditPath(sb.Dir), RulesFile: egress.SandboxPolicyPath(sb.Dir)}
	}
	if v.Env == nil {
		v.Env = []string{}
	}
	v.Mounts.Extra, v.Mounts.Volumes = []runtime.Mount{}, []runtime.Mount{}
	for i, mt := range rec.Spec.Mounts {
		switch {
		case i == 0:
			v.Mounts.Workspace = mt
		case mt.Kind == "workspace" || mt.Kind == "gitdir":
			v.Mounts.Extra = append(v.Mounts.Extra, mt)
		default:
			v.Mounts.Volumes = append(v.Mounts.Volumes, mt)
		}
	}
	for _, mt := range rec.Spec.Mounts {
		v.DockerSocket = v.DockerSocket || mt.Kind == "docker-socket"
	}
	if rec.Backend == "docker" {
		v.Mounts.Persistent = []runtime.Mount{
			{Kind: "docker-volume", Source: dockerinfo.HomeVolume(sb), Target: dockerinfo.Home(sb.Dir)},
			{Kind: "docker-container", Source: dockerinfo.ContainerName(sb), Target: "/"},
		}
		v.Paths["container"], v.Paths["home_volume"] = dockerinfo.ContainerName(sb), dockerinfo.HomeVolume(sb)
		v.Differences = dockerinfo.Differences
	} else {
		for _, p := range []struct{ name, target string }{{"home", native.HomeDir}, {"tmp", "/tmp"}, {"var", "/var"}} {
			src := filepath.Join(sb.Dir, p.name)
			v.Mounts.Persistent = append(v.Mounts.Persistent, runtime.Mount{Kind: "persistent", Source: src, Target: p.target})
			v.Paths[p.name] = src
		}
	}
	v.Limits = inspectLimits{Requested: rec.Spec.Limits, Enforced: st.Enforced, DefaultPids: native.DefaultPids,
		Disk: m.DiskStatus(ctx, rec), UnsafeNoLimits: rec.Spec.UnsafeNoLimits}
	v.AgentInstall = agentInstallOf(rec)
	return v, nil
}

func newVersionCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print paddock's version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := map[string]string{"version": Version, "go": goruntime.Version(), "os": goruntime.GOOS, "arch": goruntime.GOARCH}
			if asJSON {
				return writeJSON(f.IO.Out, v)
			}
			fmt.Fprintf(f.IO.Out, "paddock %s (%s, %s/%s)\n", Version, v["go"], v["os"], v["arch"])
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
