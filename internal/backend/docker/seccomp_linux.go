package docker

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// suidModeArg is the position of the mode argument of each call that can set a file's mode: the
// same calls the native backend's filter (internal/boxinit) checks.
var suidModeArg = map[string]uint{"chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2, "creat": 1,
	"open": 2, "openat": 3, "mknod": 1, "mknodat": 2}

// seccompProfile is Docker's default profile with the native backend's rule on top: no setuid or
// setgid bit may be set on a file (the container's root owns files on the host through the
// workspace and volumes, so a setuid-root program there would be one for the host). The mode
// calls are allowed only when those bits are clear; openat2, whose mode a filter cannot read,
// answers ENOSYS so that libc falls back to openat.
func seccompProfile() (string, error) {
	p := seccomp.DefaultProfile()
	kept := p.Syscalls[:0]
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow {
			sc.Names = slices.DeleteFunc(sc.Names, func(n string) bool {
				_, ok := suidModeArg[n]
				return ok || n == "openat2"
			})
			if len(sc.Names) == 0 && sc.Name == "" {
				continue
			}
		}
		kept = append(kept, sc)
	}
	p.Syscalls = kept
	names := make([]string, 0, len(suidModeArg))
	for n := range suidModeArg {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p.Syscalls = append(p.Syscalls, &seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{
			Names: []string{n}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: suidModeArg[n], Value: unix.S_ISUID | unix.S_ISGID, ValueTwo: 0, Op: specs.OpMaskedEqual}},
		}})
	}
	enosys := uint(unix.ENOSYS)
	p.Syscalls = append(p.Syscalls, &seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{
		Names: []string{"openat2"}, Action: specs.ActErrno, ErrnoRet: &enosys}})
	b, err := json.Marshal(p)
	return string(b), err
}
