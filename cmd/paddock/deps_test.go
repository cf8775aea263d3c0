package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoHeavyLibraries keeps the registry client, the compression libraries, the Docker client
// the MCP library, the Sigstore verifier, the manual page generator and the seccomp assembler out of the paddock binary: their initialisation would run in every exec and in every
// sandbox's supervisor and init. Code that needs them belongs in paddock-oci (see internal/handover).
func TestNoHeavyLibraries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"github.com/google/go-containerregistry", "github.com/klauspost/compress",
			"github.com/docker/", "github.com/moby/", "github.com/distribution/", "go.opentelemetry.io/",
			"github.com/modelcontextprotocol/", "github.com/google/jsonschema-go/",
			"github.com/sigstore/", "github.com/go-openapi/", "google.golang.org/grpc",
			"github.com/spf13/cobra/doc", "github.com/russross/blackfriday", "go.yaml.in/yaml", "gopkg.in/yaml",
			"github.com/elastic/go-seccomp-bpf"} {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("paddock links %s: move the code that needs it behind a seam that hands over to paddock-oci", dep)
			}
		}
	}
}
