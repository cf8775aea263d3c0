// Every paddock command is a short-lived process, and the supervisor and init are mostly idle:
// none of them gains from the runtime reading cgroup files at start-up (and every second after)
// to size GOMAXPROCS, and `exec` latency pays for it.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command paddock runs AI coding agents in isolated, persistent sandboxes.
//
// It links no registry or Docker client: work that needs them is handed to paddock-oci (see
// internal/handover), which must be in the same folder.
package main

import (
	"context"
	"io"
	"os"

	"github.com/paddockhq/paddock/cmd/internal/wire"
	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/handover"
	"github.com/paddockhq/paddock/internal/image"
)

// fetcher hands template pulls and imports to paddock-oci.
type fetcher struct{}

func (fetcher) Pull(context.Context, *image.Store, string, io.Writer) (*image.Image, error) {
	return nil, handover.HandOver("pulling a template")
}

func (fetcher) Import(context.Context, *image.Store, string, string, io.Writer) (*image.Image, error) {
	return nil, handover.HandOver("importing a template")
}

func main() {
	os.Exit(wire.Main(wire.Binary{
		Docker:  func(string) backend.Backend { return handover.DockerBackend{} },
		Fetcher: fetcher{},
	}))
}
