// Package agent describes the programs paddock runs in a sandbox, one file per agent behind
// one interface, and installs the ones that come from the npm registry.
package agent

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Agent is one program paddock can launch in a sandbox.
type Agent interface {
	// Name is what users type: `paddock run NAME`.
	Name() string
	// Info describes how the agent is installed, configured and given its keys. The zero Info
	// (the shell) means: nothing to install, nothing to keep, no keys.
	Info() Info
	// Command is the argv that starts the agent with the user's extra arguments; has reports
	// whether an executable exists in the sandbox's template.
	Command(args []string, has func(path string) bool) []string
}

// Info is what paddock knows about an agent.
type Info struct {
	// Package is the npm package the agent is installed from ("" when the template has it).
	Package string `json:"package,omitempty"`
	// Bin is the executable the package installs (node_modules/.bin/Bin).
	Bin string `json:"bin,omitempty"`
	// Flags go before the user's arguments: the sandbox is the fence, so the agent's own
	// permission prompts are turned off.
	Flags []string `json:"default_flags"`
	// ConfigDirs are folders in the sandbox's home where the agent keeps its login and settings;
	// they live in the agent's volume, shared by all its sandboxes.
	ConfigDirs []string `json:"config_dirs"`
	// Env is set for every process of the agent's sandboxes (e.g. where its config lives).
	Env []string `json:"env"`
	// Keys are the stored secrets the agent is given, and the variables that carry them.
	Keys []Key `json:"keys"`
	// HostConfig is the user's own setup that --agent-config host shows read-only.
	HostConfig *HostConfig `json:"host_config,omitempty"`
	// Login says how the agent gets to its model: a stored key, or its own sign-in inside.
	Login *Login `json:"login,omitempty"`
}

// Login is what lets an agent talk to its model: any of Secrets stored (`paddock secret set`),
// or its own sign-in done inside a sandbox, which leaves one of Files (paths in the sandbox, in
// a config folder, so in the agent's volume). How is that sign-in, in words.
type Login struct {
	Secrets []string `json:"secrets"`
	Files   []string `json:"files"`
	How     string   `json:"how"`
}

// Key is one stored secret handed to the agent: in an environment variable, or through the
// agent's own mechanism (Helper) that the seeded configuration sets up.
type Key struct {
	Secret string `json:"secret"` // a name of `paddock secret set`
	Env    string `json:"env,omitempty"`
	// Helper names the agent's setting that supplies the key when Env is "" (Claude Code's
	// apiKeyHelper).
	Helper string `json:"helper,omitempty"`
	// BaseURLEnv is the variable that points the agent at another endpoint for this service
	// (`paddock secret set NAME --endpoint URL`); BaseURLArgs, when set instead, are arguments
	// that do it, with %s for the URL.
	BaseURLEnv  string   `json:"base_url_env,omitempty"`
	BaseURLArgs []string `json:"base_url_args,omitempty"`
}

// HostConfig names the host's user-level agent instructions and settings: the entries of
// Items that exist in the host folder Dir (relative to the home folder, or $DirEnv when set)
// are bound read-only at Target/ITEM. Credentials are never among them.
type HostConfig struct {
	Dir    string   `json:"dir"`
	DirEnv string   `json:"dir_env,omitempty"`
	Items  []string `json:"items"`
	Target string   `json:"target"`
}

// AgentDir is where the agent's installed package is mounted in the sandbox.
const AgentDir = "/paddock/agent"

// BinDir is the folder put first on PATH for an installed agent.
const BinDir = AgentDir + "/node_modules/.bin"

// Home is the sandbox's home folder, where config folders live.
const Home = "/root"

var registry = map[string]Agent{}

func register(a Agent) { registry[a.Name()] = a }

// Lookup returns the agent called name.
func Lookup(name string) (Agent, error) {
	if a, ok := registry[name]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("unknown agent %q: choose one of %s", name, strings.Join(Names(), ", "))
}

// Names lists the agents, sorted.
func Names() []string {
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// VolumeName is the name of the volume that keeps an agent's config folders.
func VolumeName(agent string) string { return "paddock-" + agent + "-data" }

// VolumeSubdir is the folder of the agent's volume that holds the config folder dir: its path
// below the home with dots dropped and slashes as dashes (/root/.config/opencode: config-opencode).
func VolumeSubdir(dir string) string {
	rel := strings.TrimPrefix(path.Clean(dir), Home+"/")
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		parts[i] = strings.TrimLeft(p, ".")
	}
	return strings.Join(parts, "-")
}

// npmAgent is an agent installed from the npm registry and launched from the agent mount.
type npmAgent struct {
	name string
	info Info
	seed func(SeedContext) error
	// overHostConfig gives the arguments that restore paddock's settings when the host's own
	// config files (items, with --agent-config host) hide the seeded ones.
	overHostConfig func(placeholder func(string) string, items []string) []string
}

// ArgsOverHostConfig are the arguments an agent needs when --agent-config host shows the host's
// own files items (names in its config folder) over the settings paddock seeded.
func ArgsOverHostConfig(a Agent, placeholder func(string) string, items []string) []string {
	if n, ok := a.(npmAgent); ok && n.overHostConfig != nil && len(items) > 0 {
		return n.overHostConfig(placeholder, items)
	}
	return nil
}

func (a npmAgent) Name() string { return a.name }
func (a npmAgent) Info() Info   { return a.info }

// Command runs the installed binary by its path in the agent mount: default flags, then the
// user's arguments, untouched.
func (a npmAgent) Command(args []string, _ func(string) bool) []string {
	argv := append([]string{BinDir + "/" + a.info.Bin}, a.info.Flags...)
	return append(argv, args...)
}
