//go:build !unix

package fsutil

import "os"

// RemoveTree deletes dir. (Elsewhere than Unix paddock's state holds no mount points: sandboxes
// run in a Docker engine.)
func RemoveTree(dir string) error { return os.RemoveAll(dir) }
