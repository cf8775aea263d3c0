package sandbox

import (
	"context"
	"path/filepath"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/store"
)

// diskLimits settles the disk limit of a new sandbox on backend be into o: --disk, else the
// config file's, else paddock's default where the backend can apply it cheaply (project
// quotas). A limit asked for (flag or config) that the backend cannot enforce is refused.
func (m *Manager) diskLimits(ctx context.Context, be backend.Backend, o *Options) error {
	what := "--disk"
	if !o.DiskSet && m.DiskDefault != "" {
		b, i, err := ParseDisk(m.DiskDefault)
		if err != nil {
			return badInput("the config file's disk = %q: expected a size such as 20g, optionally with inodes (20g,inodes=1m), or none", m.DiskDefault)
		}
		o.DiskBytes, o.DiskInodes, o.DiskSet, what = b, i, true, "disk = "+m.DiskDefault+" (config file)"
	}
	if o.DiskSet && o.DiskBytes == 0 {
		return nil
	}
	var sup backend.DiskSupport
	if dl, ok := be.(backend.DiskLimiter); ok {
		sup = dl.DiskSupport(ctx, m.sandboxesDir())
	} else {
		sup.Reason = "the " + be.Name() + " backend cannot limit a sandbox's disk use"
	}
	switch {
	case !o.DiskSet && sup.Method == backend.DiskQuota:
		o.DiskBytes, o.DiskInodes = backend.DefaultDiskBytes, backend.DefaultDiskBytes/backend.BytesPerInode
	case !o.DiskSet:
		o.DiskBytes, o.DiskInodes = 0, 0
	case sup.Method == "":
		return badInput("%s: %s; run without it (paddock doctor says what this host can limit)", what, sup.Reason)
	}
	o.Limits.DiskBytes, o.Limits.DiskInodes = o.DiskBytes, o.DiskInodes
	return nil
}

// diskChange refuses a disk limit the sandbox cannot change to.
func (m *Manager) diskChange(ctx context.Context, rec *store.Record, want backend.Limits) error {
	have := rec.Spec.Limits
	if have.DiskBytes == want.DiskBytes && have.DiskInodes == want.DiskInodes {
		return nil
	}
	be := m.For(rec)
	dl, ok := be.(backend.DiskLimiter)
	if !ok {
		if want.DiskBytes == 0 {
			return nil
		}
		return badInput("--disk %s: the %s backend cannot limit a sandbox's disk use; run without --disk", FormatDisk(want), be.Name())
	}
	if err := dl.DiskChange(ctx, m.Sandbox(rec), want); err != nil {
		return badInput("--disk %s: %v", FormatDisk(want), err)
	}
	return nil
}

// sandboxesDir is the folder sandboxes' state folders are made in.
func (m *Manager) sandboxesDir() string { return filepath.Dir(m.Store.Dir("000000000000")) }

// DiskStatus is a sandbox's disk limit and use, or why it has none.
func (m *Manager) DiskStatus(ctx context.Context, rec *store.Record) backend.DiskStatus {
	be := m.For(rec)
	if dl, ok := be.(backend.DiskLimiter); ok {
		return dl.DiskStatus(ctx, m.Sandbox(rec))
	}
	return backend.DiskStatus{Reason: "the " + be.Name() + " backend cannot limit a sandbox's disk use"}
}
