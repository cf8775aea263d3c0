//go:build !linux

package cgroups

import "fmt"

const notLinux = "cgroups need Linux"

// Group is a sandbox's cgroup. Off Linux there are none: Create and Open
// always fail, so a Group is never returned.
type Group struct {
	enf Enforcement
}

// Probe reports that nothing can be enforced off Linux.
func Probe() Enforcement {
	return Enforcement{Driver: DriverNone, Reason: notLinux}
}

// Create fails off Linux with an error wrapping ErrUnavailable.
func Create(id string, l Limits) (*Group, error) {
	return nil, fmt.Errorf("%w: %s", ErrUnavailable, notLinux)
}

// Open fails off Linux with an error wrapping ErrUnavailable.
func Open(id string) (*Group, error) {
	return nil, fmt.Errorf("%w: %s", ErrUnavailable, notLinux)
}

// Add fails off Linux.
func (g *Group) Add(pid int) error { return unavailable() }

// Procs fails off Linux.
func (g *Group) Procs() ([]int, error) { return nil, unavailable() }

// Stats fails off Linux.
func (g *Group) Stats() (Stats, error) { return Stats{}, unavailable() }

// OOMKills fails off Linux.
func (g *Group) OOMKills() (int64, error) { return 0, unavailable() }

// Kill fails off Linux.
func (g *Group) Kill() error { return unavailable() }

// Remove does nothing off Linux: there is never anything to remove.
func (g *Group) Remove() error { return nil }

// unavailable is the error of every Group method off Linux.
func unavailable() error {
	return fmt.Errorf("%w: %s", ErrUnavailable, notLinux)
}

// PidsLimitHits reports refused forks; it needs Linux.
func (g *Group) PidsLimitHits() (int64, error) { return 0, unavailable() }
