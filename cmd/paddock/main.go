// Command paddock runs AI coding agents in isolated, persistent sandboxes.
package main

import (
	"os"

	"github.com/paddockhq/paddock/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args)) }
