package docker

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/paddockhq/paddock/internal/backend"
)

// Changes implements backend.Differ: the container layer's changes (the engine's diff), each
// added tree once (its topmost entry), changed entries that are not the parent of another
// change (files), deleted ones marked "D ".
func (b *Backend) Changes(ctx context.Context, sb *backend.Sandbox) ([]string, error) {
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	ci, ok, err := b.inspect(ctx, c, sb)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("sandbox %s has no container", sb.Name)
	}
	changes, err := c.ContainerDiff(ctx, ci.ID)
	if err != nil {
		return nil, fmt.Errorf("listing the changes of sandbox %s: %w", sb.Name, err)
	}
	return topChanges(changes), nil
}

func topChanges(changes []container.FilesystemChange) []string {
	kind := map[string]container.ChangeType{}
	for _, ch := range changes {
		kind[ch.Path] = ch.Kind
	}
	parent := map[string]bool{}
	for p := range kind {
		for d := p; d != "/" && d != "."; {
			d = d[:max(strings.LastIndexByte(d, '/'), 1)]
			parent[d] = true
		}
	}
	var out []string
	for p, k := range kind {
		up := p[:max(strings.LastIndexByte(p, '/'), 1)]
		switch k {
		case container.ChangeAdd:
			if kind[up] != container.ChangeAdd {
				out = append(out, p)
			}
		case container.ChangeModify:
			if !parent[p] {
				out = append(out, p)
			}
		case container.ChangeDelete:
			out = append(out, "D "+p)
		}
	}
	sort.Strings(out)
	return out
}
