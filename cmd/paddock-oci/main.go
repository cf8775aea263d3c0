//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command paddock-oci is paddock with what talks to registries, image archives and the Docker
// engine. paddock hands it commands that need those (see internal/handover); it is a complete paddock
// on its own too, and starts sandboxes with the paddock binary beside it.
package main

import (
	"os"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker"
	"github.com/paddockhq/paddock/internal/backend/docker/egresshost"
	"github.com/paddockhq/paddock/internal/cli"
	"github.com/paddockhq/paddock/internal/image"
	"github.com/paddockhq/paddock/internal/image/remote"
)

func main() {
	image.SetFetcher(remote.Fetcher{})
	egresshost.Linker = docker.Link
	cli.DockerBackend = func(defaultImage string) backend.Backend {
		b := docker.New()
		if defaultImage != "" {
			b.DefaultImage = defaultImage
		}
		return b
	}
	os.Exit(cli.Main(os.Args))
}
