package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFrontEndImports keeps the command line a front end: it parses flags, calls the sandbox
// manager (internal/sandbox) and prints. Which backends exist, how a sandbox's init works and how
// the egress proxy decides are the manager's business; the binary wires backends in
// cmd/internal/wire.
func TestFrontEndImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/paddockhq/paddock/"
	forbidden := []string{"internal/backend", "internal/boxinit", "internal/egress", "internal/handover",
		"internal/idmap", "internal/cgroups", "internal/systemd", "internal/execproto", "internal/hostpath", "cmd/"}
	for _, imp := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if imp == mod+f || strings.HasPrefix(imp, mod+strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("internal/cli imports %s: a front end reaches it through internal/sandbox", imp)
			}
		}
	}
}
