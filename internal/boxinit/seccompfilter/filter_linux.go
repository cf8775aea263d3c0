package seccompfilter

import (
	"fmt"
	"maps"
	"slices"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Arches are the Go architectures paddock's sandboxes run on, with the library's names.
var Arches = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// The terminal ioctls a sandbox process may not use (the same numbers on every architecture
// above): TIOCSTI pushes input into a terminal, TIOCLINUX reaches the Linux console.
const (
	tiocsti   = 0x5412
	tioclinux = 0x541c
)

// Info is the library's description of an architecture: its syscall numbers by name.
func Info(goarch string) (*arch.Info, error) {
	name, ok := Arches[goarch]
	if !ok {
		return nil, fmt.Errorf("no seccomp filter for %s", goarch)
	}
	return arch.GetInfo(name)
}

// deniedSyscalls fail with EPERM in every sandbox process: the system calls Docker's default
// profile leaves out (its allowlist grants none of them without CAP_SYS_ADMIN or another
// capability the sandbox does not have), so the kernel surface matches Docker's.
var deniedSyscalls = []string{
	// kernel modules and replacing the kernel
	"init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms",
	"kexec_load", "kexec_file_load", "reboot",
	// kernel attack surface rarely needed by tools
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie", "nfsservctl", "uselib", "ustat", "sysfs",
	"_sysctl", "vm86", "vm86old", "iopl", "ioperm", "acct", "swapon", "swapoff", "quotactl", "quotactl_fd",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "syslog",
	// keyrings are not namespaced
	"keyctl", "add_key", "request_key",
	// file handles bypass the mount namespace
	"open_by_handle_at", "name_to_handle_at",
	// mounts and namespaces: the sandbox's own stay as paddock built them
	"mount", "umount", "umount2", "pivot_root",
	"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	"setns", "unshare",
	// time and NUMA policy are host-wide
	"settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex",
	"mbind", "set_mempolicy", "migrate_pages", "move_pages",
	// other processes' memory and file descriptors
	"process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
}

// Namespace flags that clone may not use (a new user namespace would regain capabilities).
var cloneNSFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER,
	unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME,
}

// Personalities a program may select (Docker's list); others enable address-space tricks.
var allowedPersonalities = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// policy is the seccomp policy of every process in a sandbox.
func policy(info *arch.Info) seccomp.Policy {
	// Some names exist only on some architectures (vm86 on 386, umount on most but x86_64).
	var known []string
	for _, n := range deniedSyscalls {
		if _, ok := info.SyscallNames[n]; ok {
			known = append(known, n)
		}
	}
	var cloneConds []seccomp.NameWithConditions
	for _, f := range cloneNSFlags {
		cloneConds = append(cloneConds, seccomp.NameWithConditions{Name: "clone",
			Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.BitsSet, Value: f}}})
	}
	var personality seccomp.ArgumentConditions
	for _, p := range allowedPersonalities {
		personality = append(personality, seccomp.Condition{Argument: 0, Operation: seccomp.NotEqual, Value: p})
	}
	// Setuid and setgid bits: the sandbox's root owns files on the host through the workspace
	// and volumes (idmapped as root), so it may not mark a file setuid or setgid there; inside,
	// no_new_privs makes those bits useless anyway. The mode's argument position per call:
	modeArg := map[string]uint32{"chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2, "creat": 1,
		"open": 2, "openat": 3, "mknod": 1, "mknodat": 2}
	var suid []seccomp.NameWithConditions
	// In a fixed order: the program is compared with the one built into paddock.
	for _, name := range slices.Sorted(maps.Keys(modeArg)) {
		arg := modeArg[name]
		if _, ok := info.SyscallNames[name]; !ok {
			continue
		}
		suid = append(suid, seccomp.NameWithConditions{Name: name,
			Conditions: seccomp.ArgumentConditions{{Argument: arg, Operation: seccomp.BitsSet, Value: unix.S_ISUID | unix.S_ISGID}}})
	}
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionErrno, Names: known},
			{Action: seccomp.ActionErrno, NamesWithCondtions: append(append(cloneConds,
				seccomp.NameWithConditions{Name: "personality", Conditions: personality}), suid...)},
			// clone3 and openat2 pass their flags in memory a filter cannot read: ENOSYS makes
			// libc fall back to clone and openat, whose arguments are checked above.
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"clone3", "openat2"}},
		},
	}
}

// Assemble assembles the sandbox's seccomp program for the Go architecture goarch (amd64,
// arm64). The program first checks the architecture field: any other ABI (the 32-bit int 0x80
// ABI on x86_64, say) gets ENOSYS; terminal-injection ioctls are matched on the 32 bits the
// kernel reads.
func Assemble(goarch string) ([]bpf.RawInstruction, error) {
	name, ok := Arches[goarch]
	if !ok {
		return nil, fmt.Errorf("no seccomp filter for %s", goarch)
	}
	info, err := arch.GetInfo(name)
	if err != nil {
		return nil, err
	}
	// Plain denials are compiled here as a binary search over syscall numbers (a handful of
	// comparisons for every call, where the library's list is one comparison per denied call);
	// the library assembles only the calls with argument conditions.
	policy := policy(info)
	numbers := func(names []string) ([]uint32, error) {
		var out []uint32
		for _, n := range names {
			nr, ok := info.SyscallNames[n]
			if !ok {
				return nil, fmt.Errorf("unknown system call %s on %s", n, info.Name)
			}
			out = append(out, uint32(nr))
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	}
	eperm, err := numbers(policy.Syscalls[0].Names)
	if err != nil {
		return nil, err
	}
	enosys, err := numbers(policy.Syscalls[2].Names)
	if err != nil {
		return nil, err
	}
	conditional := seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: policy.Syscalls[1:2]}
	body, err := conditional.Assemble()
	if err != nil {
		return nil, err
	}
	search := append(DenyAny(eperm, bpf.RetConstant{Val: uint32(seccomp.ActionErrno) | uint32(unix.EPERM)}),
		DenyAny(enosys, bpf.RetConstant{Val: uint32(seccomp.ActionErrno) | uint32(unix.ENOSYS)})...)
	body = append(search, body...)
	ioctlNr, ok := info.SyscallNames["ioctl"]
	if !ok {
		return nil, fmt.Errorf("no ioctl syscall on %s", info.Name)
	}
	const (
		archOff  = 4
		nrOff    = 0
		arg1Low  = 16 + 8 // seccomp_data.args[1], low half on little-endian machines
		retErrno = uint32(seccomp.ActionErrno)
	)
	prefix := []bpf.Instruction{
		bpf.LoadAbsolute{Off: archOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: retErrno | uint32(unix.ENOSYS)},
		bpf.LoadAbsolute{Off: nrOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(ioctlNr), SkipTrue: 4},
		bpf.LoadAbsolute{Off: arg1Low, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: tiocsti, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: tioclinux, SkipTrue: 1},
		bpf.RetConstant{Val: retErrno | uint32(unix.EPERM)},
	}
	return bpf.Assemble(append(prefix, body...))
}

// DenyAny returns code that, with the syscall number in A, runs deny when it is one of nums
// (sorted) and otherwise falls through to what follows: a binary search, so every call pays a
// few comparisons rather than one per denied number.
func DenyAny(nums []uint32, deny bpf.Instruction) []bpf.Instruction {
	if len(nums) == 0 {
		return nil
	}
	if len(nums) <= 3 {
		var out []bpf.Instruction
		for i, n := range nums {
			out = append(out, bpf.JumpIf{Cond: bpf.JumpEqual, Val: n, SkipTrue: uint8(len(nums) - i)})
		}
		return append(out, bpf.Jump{Skip: 1}, deny)
	}
	mid := len(nums) / 2
	left, right := DenyAny(nums[:mid], deny), DenyAny(nums[mid:], deny)
	out := []bpf.Instruction{bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: nums[mid], SkipTrue: uint8(len(left) + 1)}}
	out = append(out, left...)
	out = append(out, bpf.Jump{Skip: uint32(len(right))})
	return append(out, right...)
}
