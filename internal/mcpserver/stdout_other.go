//go:build !unix

package mcpserver

import "os"

// protocolOut is stdout: other systems keep it as it is.
func protocolOut() (*os.File, error) { return os.Stdout, nil }
