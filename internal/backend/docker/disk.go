package docker

import (
	"context"
	"errors"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker/dockername"
)

// DiskSupport implements backend.DiskLimiter: the engine limits no sandbox's disk use (see
// dockername.NoDiskLimit), so an asked-for limit is refused.
func (*Backend) DiskSupport(context.Context, string) backend.DiskSupport {
	return backend.DiskSupport{Reason: dockername.NoDiskLimit}
}

// DiskStatus implements backend.DiskLimiter.
func (*Backend) DiskStatus(context.Context, *backend.Sandbox) backend.DiskStatus {
	return backend.DiskStatus{Reason: dockername.NoDiskLimit}
}

// DiskChange implements backend.DiskLimiter.
func (*Backend) DiskChange(_ context.Context, _ *backend.Sandbox, l backend.Limits) error {
	if l.DiskBytes != 0 {
		return errors.New(dockername.NoDiskLimit)
	}
	return nil
}

var _ backend.DiskLimiter = (*Backend)(nil)
