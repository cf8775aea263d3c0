package wire

import (
	"slices"
	"testing"
)

func TestMCPCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
		ok   bool
	}{
		{[]string{"paddock", "mcp"}, []string{}, true},
		{[]string{"paddock", "mcp", "--backend", "docker"}, []string{"--backend", "docker"}, true},
		{[]string{"paddock", "--backend", "docker", "mcp"}, []string{"--backend", "docker"}, true},
		{[]string{"paddock", "--backend=docker", "--unsafe-no-limits", "mcp", "-h"}, []string{"--backend=docker", "--unsafe-no-limits", "-h"}, true},
		{[]string{"paddock", "run", "mcp"}, nil, false},
		{[]string{"paddock", "exec", "box", "mcp"}, nil, false},
		{[]string{"paddock", "--backend", "mcp"}, nil, false},
		{[]string{"paddock"}, nil, false},
	} {
		got, ok := mcpCommand(tc.args)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("mcpCommand(%q) = %q, %v; want %q, %v", tc.args, got, ok, tc.want, tc.ok)
		}
	}
}
