package dockername

import (
	"context"
	"errors"

	"github.com/paddockhq/paddock/internal/backend"
)

// NoDiskLimits is the Docker backend's backend.DiskLimiter, for the backend and the paddock
// binary's stand-in to embed: the engine limits no sandbox's disk use (see NoDiskLimit), so an
// asked-for limit is refused. It needs no engine.
type NoDiskLimits struct{}

// DiskSupport implements backend.DiskLimiter.
func (NoDiskLimits) DiskSupport(context.Context, string) backend.DiskSupport {
	return backend.DiskSupport{Reason: NoDiskLimit}
}

// DiskStatus implements backend.DiskLimiter.
func (NoDiskLimits) DiskStatus(context.Context, *backend.Sandbox) backend.DiskStatus {
	return backend.DiskStatus{Reason: NoDiskLimit}
}

// DiskChange implements backend.DiskLimiter.
func (NoDiskLimits) DiskChange(_ context.Context, _ *backend.Sandbox, l backend.Limits) error {
	if l.DiskBytes != 0 {
		return errors.New(NoDiskLimit)
	}
	return nil
}
