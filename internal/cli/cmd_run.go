package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

// sandboxFlags are the settings shared by run and create.
type sandboxFlags struct {
	workspace  string
	name       string
	env        []string
	envFiles   []string
	volumes    []string
	disk       string
	cpus       string
	memory     string
	pids       int64
	template   string
	pull       string
	recreate   bool
	force      bool
	dockerSock bool
	network    string

	agentVersion, agentConfig string
	publish                   []string
	branch                    string
}

func (s *sandboxFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&s.workspace, "workspace", "w", "", "workspace folder (default: the current folder)")
	fs.StringVar(&s.name, "name", "", "name of the sandbox (default: AGENT-FOLDER)")
	fs.StringArrayVarP(&s.env, "env", "e", nil, "set KEY=VAL in the sandbox, or KEY to pass the host's value (repeatable)")
	fs.StringArrayVar(&s.envFiles, "env-file", nil, "read KEY=VAL lines from a file (repeatable)")
	fs.StringArrayVarP(&s.volumes, "volume", "v", nil, "mount HOST[:SANDBOX][:ro] (repeatable)")
	fs.StringVar(&s.branch, "branch", "", "work in a checkout of its own on branch paddock/NAME (--branch=NAME; default: the sandbox's name), never in the workspace: see paddock diff, paddock merge")
	fs.Lookup("branch").NoOptDefVal = sandbox.DefaultBranch
	fs.StringArrayVarP(&s.publish, "publish", "p", nil, "publish a port: [HOSTADDR:]HOSTPORT[:PORT], the host side on 127.0.0.1 unless HOSTADDR says otherwise (repeatable)")
	fs.StringVar(&s.cpus, "cpus", "", "CPU limit, e.g. 1.5")
	fs.StringVarP(&s.memory, "memory", "m", "", "memory limit, e.g. 2g")
	fs.Int64Var(&s.pids, "pids-limit", 0, "process limit (default 4096, best effort)")
	fs.StringVar(&s.disk, "disk", "", "limit of what the sandbox writes outside the workspace: 20g, 20g,inodes=1m or none (refused where the host cannot enforce it: see paddock doctor)")
	fs.StringVarP(&s.template, "template", "t", "", "root filesystem: host (default) or an OCI image, e.g. debian:bookworm")
	fs.StringVar(&s.pull, "pull", "missing", "when to pull the template image: always, missing or never")
	fs.BoolVar(&s.recreate, "recreate", false, "rebuild an existing sandbox with these settings, keeping its home, /tmp and installed state")
	fs.BoolVar(&s.force, "force", false, "allow / or your home folder as the workspace")
	fs.StringVar(&s.network, "network", "", "egress preset: locked (only what you allow), balanced (default: agents' APIs, package registries, git hosts) or open (public Internet)")
	fs.BoolVar(&s.dockerSock, "mount-docker-socket", false, "show the Docker engine's socket at /var/run/docker.sock inside (hands the agent control of that engine)")
	fs.StringVar(&s.agentVersion, "agent-version", "", "agent version to install and run (default: the latest; pinned once given)")
	fs.StringVar(&s.agentConfig, "agent-config", "", "host: show your own agent instructions and settings read-only (never credentials); none: stop")
}

// options turns the flags into manager options; changed says which flags were given.
func (s *sandboxFlags) options(fs *pflag.FlagSet, agentName string, extra []string) (sandbox.Options, error) {
	o := sandbox.Options{Agent: agentName, Workspace: s.workspace, Name: s.name, Template: s.template,
		Pull: s.pull, Recreate: s.recreate, Force: s.force}
	var err error
	if o.Env, err = sandbox.ParseEnv(s.env, s.envFiles); err != nil {
		return o, err
	}
	o.EnvSet = fs.Changed("env") || fs.Changed("env-file")
	o.Branch = s.branch
	for _, p := range s.publish {
		port, err := sandbox.ParsePort(p)
		if err != nil {
			return o, err
		}
		o.Ports = append(o.Ports, port)
	}
	for _, v := range s.volumes {
		m, err := sandbox.ParseVolume(v)
		if err != nil {
			return o, err
		}
		o.Volumes = append(o.Volumes, m)
	}
	if len(extra) > 0 {
		if o.Workspace != "" {
			return o, fmt.Errorf("%w: give the workspace either with -w or as the first folder, not both", sandbox.ErrBadInput)
		}
		o.Workspace = extra[0]
		for _, e := range extra[1:] {
			m, err := sandbox.ParseExtraWorkspace(e)
			if err != nil {
				return o, err
			}
			o.Extra = append(o.Extra, m)
		}
	}
	o.MountsSet = fs.Changed("volume") || len(extra) > 1
	if s.cpus != "" {
		if o.Limits.CPUs, err = sandbox.ParseCPUs(s.cpus); err != nil {
			return o, err
		}
	}
	if s.memory != "" {
		if o.Limits.MemoryBytes, err = sandbox.ParseMemory(s.memory); err != nil {
			return o, err
		}
	}
	if s.disk != "" {
		if o.DiskBytes, o.DiskInodes, err = sandbox.ParseDisk(s.disk); err != nil {
			return o, err
		}
		o.DiskSet = true
	}
	if s.pids < 0 || (fs.Changed("pids-limit") && s.pids < 8) {
		return o, fmt.Errorf("%w: --pids-limit %d: give at least 8", sandbox.ErrBadInput, s.pids)
	}
	o.Limits.Pids = s.pids
	o.CPUsSet, o.MemorySet, o.PidsSet = fs.Changed("cpus"), fs.Changed("memory"), fs.Changed("pids-limit")
	o.TemplateSet = fs.Changed("template")
	o.Network, o.NetworkSet = s.network, fs.Changed("network")
	o.DockerSocket, o.DockerSocketSet = s.dockerSock, fs.Changed("mount-docker-socket")
	o.AgentVersion, o.AgentConfig = s.agentVersion, s.agentConfig
	o.AgentVersionSet, o.AgentConfigSet = fs.Changed("agent-version"), fs.Changed("agent-config")
	return o, nil
}

type runOptions struct {
	sandboxFlags
	detach bool
}

func newRunCmd(f *Factory) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run [flags] AGENT|SANDBOX [ARGS...]",
		Short: "Start an agent in the sandbox for this folder, creating the sandbox if needed",
		Example: `  paddock run claude                 # Claude Code in the sandbox for this folder (installed on first use)
  paddock run claude -p 'fix the failing test'   # arguments after the agent go to the agent
  paddock run codex -m 4g --cpus 2   # flags before the agent are paddock's: limits, -e, -v, --network
  paddock run shell                  # interactive login shell in the sandbox for this folder
  paddock run shell -c 'npm test'    # arguments after the agent go to it; its exit code is paddock's
  paddock run -d claude 'add retries'   # the agent works in the background: paddock attach, paddock logs
  paddock run shell-myproj           # the agent of an existing sandbox, by name`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return withCode(ExitUsage, fmt.Errorf("name an agent (%s) or an existing sandbox, e.g. `paddock run shell`", strings.Join(agent.Names(), ", ")))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), f, cmd.Flags(), &opts, args[0], args[1:])
		},
	}
	cmd.Flags().SetInterspersed(false)
	opts.register(cmd.Flags())
	cmd.Flags().BoolVarP(&opts.detach, "detach", "d", false, "start the agent in the background (paddock attach, paddock logs)")
	return cmd
}

// resolveTarget decides which sandbox `run X` means: an agent for this folder, or an existing
// sandbox named X.
func resolveTarget(ctx context.Context, f *Factory, fs *pflag.FlagSet, sf *sandboxFlags, target string, extra []string) (*sandbox.Manager, *store.Record, bool, error) {
	m, err := f.Manager()
	if err != nil {
		return nil, nil, false, err
	}
	agentName := target
	if _, err := agent.Lookup(target); err != nil {
		rec, rerr := m.Store.Resolve(target)
		if rerr != nil {
			return nil, nil, false, fmt.Errorf("%w: %v, and no sandbox is called %q (see `paddock ls -a`)", sandbox.ErrBadInput, err, target)
		}
		agentName = rec.Agent
		if sf.workspace == "" && len(extra) == 0 {
			sf.workspace = rec.Workspace
		}
		if sf.name == "" {
			sf.name = rec.Name
		}
	}
	o, err := sf.options(fs, agentName, extra)
	if err != nil {
		return nil, nil, false, err
	}
	warnDockerSocket(f, o)
	rec, created, err := m.Ensure(ctx, o)
	if err != nil {
		return nil, nil, false, err
	}
	return m, rec, created, nil
}

func runRun(ctx context.Context, f *Factory, fs *pflag.FlagSet, opts *runOptions, target string, args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:] // `paddock run claude -- --version`
	}
	m, rec, created, err := resolveTarget(ctx, f, fs, &opts.sandboxFlags, target, nil)
	if err != nil {
		return execExitCode(err)
	}
	if !created && !opts.detach {
		return runAgent(ctx, f, m, rec, args)
	}
	if err := m.Up(ctx, rec); err != nil {
		if created {
			// A sandbox that never ran is not left behind half-made.
			m.Remove(context.WithoutCancel(ctx), rec, true)
		}
		return execExitCode(err)
	}
	if created {
		fmt.Fprintf(f.IO.Err, "paddock: created sandbox %s for %s\n", rec.Name, rec.Workspace)
	}
	if opts.detach {
		if err := startBackground(ctx, f, m, rec, args); err != nil {
			return err
		}
		fmt.Fprintln(f.IO.Out, rec.Name)
		return nil
	}
	return runAgent(ctx, f, m, rec, args)
}

// startBackground starts the sandbox's agent in a background session (run -d): it runs on a
// terminal the sandbox keeps, for attach and logs. One that runs already is left as it is.
func startBackground(ctx context.Context, f *Factory, m *sandbox.Manager, rec *store.Record, args []string) error {
	if s := m.Session(rec); s != nil && s.Running {
		if len(args) > 0 {
			return fmt.Errorf("%w: sandbox %s's session is running already: join it with paddock attach %s, or end it first", sandbox.ErrBadInput, rec.Name, rec.Name)
		}
		fmt.Fprintf(f.IO.Err, "paddock: sandbox %s's session is running already: paddock attach %s\n", rec.Name, rec.Name)
		return nil
	}
	_, err := m.StartSession(ctx, rec, args, terminalSize(f))
	if err != nil {
		return execExitCode(err)
	}
	fmt.Fprintf(f.IO.Err, "paddock: %s runs in the background: paddock attach %s (detach with Ctrl-P Ctrl-Q), paddock logs %s\n", rec.Agent, rec.Name, rec.Name)
	return nil
}

// runAgent runs the sandbox's agent with args, attached to the caller's terminal or streams.
func runAgent(ctx context.Context, f *Factory, m *sandbox.Manager, rec *store.Record, args []string) error {
	// A terminal only when both ends are one: `paddock run shell -c ls > out` stays byte-exact.
	tty := IsTTY(f.IO.In) && IsTTY(f.IO.OutFile)
	code, err := m.RunAgent(ctx, rec, sandbox.AgentRun{Args: args, TTY: tty, Streams: execIO(f)})
	if err != nil {
		return execExitCode(err)
	}
	if code != 0 {
		return withCode(code, nil)
	}
	return nil
}

// warnDockerSocket says what --mount-docker-socket gives away.
func warnDockerSocket(f *Factory, o sandbox.Options) {
	if o.DockerSocket {
		fmt.Fprintln(f.IO.Err, "paddock: warning: --mount-docker-socket hands the agent control of the Docker engine: it can start privileged containers and read or change every file of the engine's host")
	}
}

func execIO(f *Factory) sandbox.Streams {
	return sandbox.Streams{Stdin: f.IO.In, Stdout: f.IO.OutFile, Stderr: errFile(f)}
}

func errFile(f *Factory) *os.File {
	if ef, ok := f.IO.Err.(*os.File); ok {
		return ef
	}
	return os.Stderr
}

var defaultStopGrace = 10 * time.Second
