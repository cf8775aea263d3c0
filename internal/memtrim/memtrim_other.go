//go:build !linux

package memtrim

import "time"

// Keep does nothing off Linux.
func Keep(time.Duration) {}
