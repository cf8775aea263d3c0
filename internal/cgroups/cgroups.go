// Package cgroups puts a sandbox's processes into a Linux control group with
// CPU, memory and pids limits, reports their usage, and cleans up.
//
// Three host layouts are handled:
//   - unified cgroup v2, as root (groups under /sys/fs/cgroup/paddock.slice) or
//     rootless inside a subtree delegated to the user (e.g. by systemd);
//   - cgroup v1 or hybrid, root only, with one group directory per controller
//     hierarchy (<mount>/paddock/<id>);
//   - nothing usable, reported as Driver "none" with a plain Reason.
package cgroups

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Driver names reported in Enforcement.Driver.
const (
	DriverV2   = "v2"
	DriverV1   = "v1"
	DriverNone = "none"
)

// Limits requested for a sandbox. Zero means "no limit requested".
type Limits struct {
	CPUs        float64 // e.g. 1.5 -> quota 150000 / period 100000
	MemoryBytes int64
	Pids        int64
}

// Enforcement says what the host can enforce, for `inspect` and for refusing.
type Enforcement struct {
	Driver string   `json:"driver"` // "v2", "v1", or "none"
	CPU    bool     `json:"cpu"`
	Memory bool     `json:"memory"`
	Pids   bool     `json:"pids"`
	Reason string   `json:"reason,omitempty"` // plain words: why something is not enforced and what to do
	Paths  []string `json:"paths,omitempty"`  // cgroup dirs used
	Scope  string   `json:"scope,omitempty"`  // the systemd scope unit holding the group, if any
}

// Stats is a group's current usage.
type Stats struct {
	MemoryBytes int64 `json:"memory_bytes"`
	Pids        int64 `json:"pids"`
	CPUUsec     int64 `json:"cpu_usec"`
}

// ErrUnavailable is wrapped (with a plain explanation) by every error that
// means a requested limit cannot be enforced on this host.
var ErrUnavailable = errors.New("cgroup limits unavailable")

const (
	cpuPeriod = 100000 // CFS period in microseconds that CPUs is scaled against
	minQuota  = 1000   // the kernel refuses CFS quotas below 1ms
	maxCPUs   = 1 << 20
	maxIDLen  = 128
)

// Enforcement reports what this group enforces and the directories it uses.
func (g *Group) Enforcement() Enforcement {
	e := g.enf
	e.Paths = slices.Clone(e.Paths)
	return e
}

// cpuQuota is the CFS quota in microseconds per cpuPeriod for l.CPUs.
func (l Limits) cpuQuota() int64 {
	return int64(math.Round(l.CPUs * cpuPeriod))
}

// validate rejects limits that no cgroup could express.
func (l Limits) validate() error {
	switch {
	case math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) || l.CPUs < 0 || l.CPUs > maxCPUs:
		return fmt.Errorf("cgroups: invalid CPU limit %v: want 0 (no limit) or a positive number of CPUs", l.CPUs)
	case l.CPUs > 0 && l.cpuQuota() < minQuota:
		return fmt.Errorf("cgroups: CPU limit %v is below the smallest the kernel accepts (0.01)", l.CPUs)
	case l.MemoryBytes < 0:
		return fmt.Errorf("cgroups: invalid memory limit %d: want 0 (no limit) or a positive byte count", l.MemoryBytes)
	case l.Pids < 0:
		return fmt.Errorf("cgroups: invalid pids limit %d: want 0 (no limit) or a positive count", l.Pids)
	}
	return nil
}

// checkID accepts only hex sandbox ids, so an id can never name another path.
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("cgroups: invalid sandbox id %q: want 1 to %d hex digits", id, maxIDLen)
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return fmt.Errorf("cgroups: invalid sandbox id %q: want hex digits only", id)
		}
	}
	return nil
}

// refuse returns an error wrapping ErrUnavailable when l asks for a CPU or
// memory limit that e does not enforce. A pids limit never causes refusal: it
// is applied where possible, and its absence is noted by withPidsNote.
func refuse(l Limits, e Enforcement) error {
	var missing []string
	if l.CPUs > 0 && !e.CPU {
		missing = append(missing, "CPU")
	}
	if l.MemoryBytes > 0 && !e.Memory {
		missing = append(missing, "memory")
	}
	if len(missing) == 0 {
		return nil
	}
	why := e.Reason
	if why == "" {
		why = "the host does not offer it"
	}
	return fmt.Errorf("%w: a %s limit was requested but cannot be enforced: %s",
		ErrUnavailable, strings.Join(missing, " and "), why)
}

// PidsNote is what Enforcement.Reason says when a requested pids limit is not in the group (a
// backend that limits processes another way drops it: WithoutPidsNote).
const PidsNote = "the requested pids limit is not enforced by a cgroup"

// withPidsNote adds to e.Reason that a requested pids limit is not in force.
func withPidsNote(e Enforcement, l Limits) Enforcement {
	if l.Pids > 0 && !e.Pids {
		e.Reason = joinReasons(PidsNote, e.Reason)
	}
	return e
}

// WithoutPidsNote is reason without PidsNote: the process limit is enforced otherwise.
func WithoutPidsNote(reason string) string {
	return strings.TrimPrefix(strings.TrimPrefix(reason, PidsNote), "; ")
}

// joinReasons joins the non-empty reasons with "; ".
func joinReasons(reasons ...string) string {
	return strings.Join(slices.DeleteFunc(slices.Clone(reasons), func(s string) bool { return s == "" }), "; ")
}
