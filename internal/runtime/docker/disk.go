package docker

import (
	"context"
	"errors"

	"github.com/paddockhq/paddock/internal/runtime"
	"github.com/paddockhq/paddock/internal/runtime/dockerinfo"
)

// DiskSupport implements runtime.DiskLimiter: the engine limits no sandbox's disk use (see
// dockerinfo.NoDiskLimit), so an asked-for limit is refused.
func (*Backend) DiskSupport(context.Context, string) runtime.DiskSupport {
	return runtime.DiskSupport{Reason: dockerinfo.NoDiskLimit}
}

// DiskStatus implements runtime.DiskLimiter.
func (*Backend) DiskStatus(context.Context, *runtime.Sandbox) runtime.DiskStatus {
	return runtime.DiskStatus{Reason: dockerinfo.NoDiskLimit}
}

// DiskChange implements runtime.DiskLimiter.
func (*Backend) DiskChange(_ context.Context, _ *runtime.Sandbox, l runtime.Limits) error {
	if l.DiskBytes != 0 {
		return errors.New(dockerinfo.NoDiskLimit)
	}
	return nil
}

var _ runtime.DiskLimiter = (*Backend)(nil)
