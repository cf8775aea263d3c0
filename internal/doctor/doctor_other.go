//go:build !linux

package doctor

import (
	"context"
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
