// Every paddock command is a short-lived process, and the supervisor and init are mostly idle:
// none of them gains from the runtime reading cgroup files at start-up (and every second after)
// to size GOMAXPROCS, and `exec` latency pays for it.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command paddock runs AI coding agents in isolated, persistent sandboxes.
package main

import (
	"os"

	"github.com/paddockhq/paddock/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args)) }
