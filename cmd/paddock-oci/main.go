//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command paddock-oci is paddock with what talks to registries, image archives and the Docker
// engine. paddock hands it commands that need those (see internal/handover); it is a complete
// paddock on its own too, and starts sandboxes with the paddock binary beside it.
package main

import (
	"os"

	"github.com/paddockhq/paddock/cmd/internal/wire"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker"
	"github.com/paddockhq/paddock/internal/image/remote"
	"github.com/paddockhq/paddock/internal/manpage"
	"github.com/paddockhq/paddock/internal/mcpserver"
	"github.com/paddockhq/paddock/internal/npmtrust"
	"github.com/paddockhq/paddock/internal/npmtrust/provenance"
)

func main() {
	os.Exit(wire.Main(wire.Binary{
		Docker: func(defaultImage string) backend.Backend {
			b := docker.New()
			if defaultImage != "" {
				b.DefaultImage = defaultImage
			}
			return b
		},
		Fetcher: remote.Fetcher{},
		Link:    docker.Link,
		MCP:     mcpserver.Main,
		Manual:  manpage.Write,
		// paddock (and paddock-oci itself) verify a provenance bundle through this command.
		Internal: map[string]func([]string) int{npmtrust.HelperCommand: provenance.HelperMain,
			docker.SessionServeCommand: docker.SessionServeMain},
	}))
}
