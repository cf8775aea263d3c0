//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command paddock-oci is paddock with what talks to registries, image archives and the Docker
// engine. paddock hands it commands that need those (see internal/exe); it is a complete paddock
// on its own too, and starts sandboxes with the paddock binary beside it.
package main

import (
	"os"

	"github.com/paddockhq/paddock/internal/cli"
	"github.com/paddockhq/paddock/internal/image"
	"github.com/paddockhq/paddock/internal/image/remote"
	"github.com/paddockhq/paddock/internal/npmtrust"
	"github.com/paddockhq/paddock/internal/npmtrust/provenance"
	"github.com/paddockhq/paddock/internal/runtime"
	"github.com/paddockhq/paddock/internal/runtime/docker"
	"github.com/paddockhq/paddock/internal/runtime/dockeregress"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == npmtrust.HelperCommand {
		os.Exit(provenance.HelperMain(os.Args[2:]))
	}
	npmtrust.VerifyBundle = provenance.Verify
	image.SetFetcher(remote.Fetcher{})
	dockeregress.Linker = docker.Link
	cli.DockerBackend = func(defaultImage string) runtime.Backend {
		b := docker.New()
		if defaultImage != "" {
			b.DefaultImage = defaultImage
		}
		return b
	}
	os.Exit(cli.Main(os.Args))
}
