package cgroups

import (
	"fmt"
	"path/filepath"
)

// PidsLimitHits returns how many times a fork was refused because the group reached its
// process limit (pids.events "max", on v1 and v2).
func (g *Group) PidsLimitHits() (int64, error) {
	if err := g.none(); err != nil {
		return 0, err
	}
	dir, ok := g.ctl["pids"]
	if !ok {
		return 0, fmt.Errorf("%w: sandbox %s has no pids controller", ErrUnavailable, g.id)
	}
	n, err := readKey(filepath.Join(dir, "pids.events"), "max")
	if err != nil {
		return 0, fmt.Errorf("cgroups: read pids events: %w", err)
	}
	return n, nil
}
