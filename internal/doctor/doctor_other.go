//go:build !linux

package doctor

import (
	"context"
	"errors"
	"runtime"
)

// Run diagnoses this host: the native engine needs Linux.
func Run(ctx context.Context, home string) Report {
	r := Report{Mode: "unsupported", Kernel: runtime.GOOS}
	r.add(Check{Name: "native engine", Required: true, Detail: "the native sandbox engine needs Linux",
		Fix: "use the Docker backend (the default here): start Docker Desktop, Colima or OrbStack"})
	r.finish()
	return r
}

// ProbeMain is the hidden probe command.
func ProbeMain(string) int { return 1 }

// AppArmorProfilePath is where paddock's AppArmor profile goes on Linux.
const AppArmorProfilePath = "/etc/apparmor.d/paddock"

// ErrNoProfileNeeded: the host does not restrict user namespaces with AppArmor.
var ErrNoProfileNeeded = errors.New("AppArmor profiles are for Linux hosts: paddock needs none here")

// InstallAppArmorProfile: AppArmor is Linux's.
func InstallAppArmorProfile(context.Context) error {
	return ErrNoProfileNeeded
}
