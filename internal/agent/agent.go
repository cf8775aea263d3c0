// Package agent describes the programs paddock runs in a sandbox, one file per agent behind
// one interface.
package agent

import (
	"fmt"
	"sort"
	"strings"
)

// Agent is one program paddock can launch in a sandbox.
type Agent interface {
	// Name is what users type: `paddock run NAME`.
	Name() string
	// Command is the argv that starts the agent with the user's extra arguments; has reports
	// whether an executable exists in the sandbox's template.
	Command(args []string, has func(path string) bool) []string
}

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
