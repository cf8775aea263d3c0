package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFrontEndImports keeps the command line a front end: it parses flags, calls the sandbox
// manager (internal/sandbox) and prints. Which backends exist, how a sandbox's init works and how
// the egress proxy decides are the manager's business; the binary wires backends in
// cmd/internal/wire. The MCP server (internal/mcpserver), the other front end, is held to the
// same rule, and needs no code of the command line.
func TestFrontEndImports(t *testing.T) {
	const mod = "github.com/paddockhq/paddock/"
	forbidden := []string{"internal/backend", "internal/boxinit", "internal/egress", "internal/handover",
		"internal/idmap", "internal/cgroups", "internal/systemd", "internal/execproto", "internal/hostpath", "cmd/"}
	for _, pkg := range []string{"internal/cli", "internal/mcpserver"} {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "../../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			for _, f := range append(forbidden, "internal/cli") {
				if imp == mod+f || strings.HasPrefix(imp, mod+strings.TrimSuffix(f, "/")+"/") {
					t.Errorf("%s imports %s: a front end reaches it through internal/sandbox", pkg, imp)
				}
			}
		}
	}
}
