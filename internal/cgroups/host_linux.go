package cgroups

import (
	"errors"
	"fmt"
)

// hostSuffix names the group of a sandbox's supervisor beside the sandbox's own, where no systemd
// scope holds both (see CreateDelegated): <id>-supervisor.
const hostSuffix = "-supervisor"

// CreateHost makes the group of the supervisor of sandbox id (the host side of the sandbox,
// which serves its egress proxy) with limits l, beside the sandbox's group, replacing a stale
// one. On a host that can enforce nothing it returns a Group whose Driver is "none".
func CreateHost(id string, l Limits) (*Group, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	p := detect()
	if p.enf.Driver == DriverNone {
		return &Group{id: id, enf: p.enf}, nil
	}
	name := id + hostSuffix
	if stale, ok := p.existing(name); ok {
		if err := stale.Remove(); err != nil {
			return nil, fmt.Errorf("cgroups: remove stale supervisor group of sandbox %s: %w", id, err)
		}
	}
	g, err := p.make(name)
	if err != nil {
		return nil, fmt.Errorf("%w: create supervisor group of sandbox %s: %w", ErrUnavailable, id, err)
	}
	l.CPUs = 0
	if !g.enf.Memory {
		l.MemoryBytes = 0
	}
	if err := g.apply(l); err != nil {
		return nil, errors.Join(fmt.Errorf("%w: %w", ErrUnavailable, err), g.Remove())
	}
	return g, nil
}

// RemoveHost removes the supervisor group of sandbox id (once its supervisor has exited), if any.
func RemoveHost(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if g, ok := detect().existing(id + hostSuffix); ok {
		return g.Remove()
	}
	return nil
}
