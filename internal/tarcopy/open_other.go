//go:build !unix

package tarcopy

import "os"

func openNoFollow(p string) (*os.File, error) { return os.Open(p) }
