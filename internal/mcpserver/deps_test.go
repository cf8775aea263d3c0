package mcpserver

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFrontEndImports keeps the MCP server a front end of its own: like the command line it
// reaches sandboxes through the manager (internal/sandbox) alone, and it needs no code of the
// command line.
func TestFrontEndImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/paddockhq/paddock/"
	forbidden := []string{"internal/cli", "internal/backend", "internal/boxinit", "internal/egress", "internal/handover",
		"internal/idmap", "internal/cgroups", "internal/systemd", "internal/execproto", "internal/hostpath", "cmd/"}
	for _, imp := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if imp == mod+f || strings.HasPrefix(imp, mod+strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("internal/mcpserver imports %s: a front end reaches it through internal/sandbox", imp)
			}
		}
	}
}
