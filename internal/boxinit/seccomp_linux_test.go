package boxinit

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

// TestDenyAny runs the generated binary search in a BPF interpreter for every syscall number
// and checks that exactly the listed ones are denied.
func TestDenyAny(t *testing.T) {
	for _, nums := range [][]uint32{{}, {7}, {1, 2}, {3, 9, 27}, {0, 1, 2, 3, 4},
		{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113,
			127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251,
			257, 263, 269, 271, 277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397}} {
		prog := []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 4}}
		prog = append(prog, denyAny(nums, bpf.RetConstant{Val: 1})...)
		prog = append(prog, bpf.RetConstant{Val: 2})
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%v: %v", nums, err)
		}
		for nr := uint32(0); nr < 512; nr++ {
			in := make([]byte, 64)
			binary.BigEndian.PutUint32(in, nr) // the VM loads big-endian words
			got, err := vm.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if slices.Contains(nums, nr) {
				want = 1
			}
			if got != want {
				t.Fatalf("set %v, syscall %d: verdict %d, want %d", nums, nr, got, want)
			}
		}
	}
}

// TestSeccompPolicyAssembles makes sure every denied name exists on this architecture's table
// or is filtered out, and the whole program fits BPF's limits.
func TestSeccompPolicyAssembles(t *testing.T) {
	p := sandboxPolicy()
	if _, err := p.Assemble(); err != nil {
		t.Fatal(err)
	}
}

// constAllow follows the kernel's seccomp_is_const_allow (kernel/seccomp.c): it runs the program
// for one syscall number on the native architecture and reports whether the verdict is ALLOW
// without ever looking at the arguments or the instruction pointer. The kernel then records the
// syscall in its per-filter bitmap and never runs the filter for it again, so such calls cost
// nothing.
func constAllow(t *testing.T, prog []bpf.RawInstruction, archID, nr uint32) bool {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Op {
		case 0x20: // BPF_LD | BPF_W | BPF_ABS
			switch in.K {
			case 0:
				a = nr
			case 4:
				a = archID
			default:
				return false
			}
		case 0x06: // BPF_RET | BPF_K
			return in.K == 0x7fff0000
		case 0x05: // BPF_JMP | BPF_JA
			pc += int(in.K)
		case 0x15, 0x35, 0x25, 0x45: // JEQ, JGE, JGT, JSET with K
			var c bool
			switch in.Op {
			case 0x15:
				c = a == in.K
			case 0x35:
				c = a >= in.K
			case 0x25:
				c = a > in.K
			case 0x45:
				c = a&in.K != 0
			}
			if c {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case 0x54: // BPF_ALU | BPF_AND | BPF_K
			a &= in.K
		default:
			return false
		}
	}
	return false
}

// TestSeccompHotCallsSkipFilter checks that the calls a busy program makes all the time are
// allowed on the syscall number alone, so the kernel's cache lets them bypass the filter.
func TestSeccompHotCallsSkipFilter(t *testing.T) {
	prog, err := sandboxFilter()
	if err != nil {
		t.Fatal(err)
	}
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"read", "write", "close", "fstat", "newfstatat", "statx", "lseek",
		"pread64", "pwrite64", "getdents64", "mmap", "munmap", "mprotect", "brk", "futex", "rt_sigaction",
		"rt_sigprocmask", "epoll_wait", "epoll_pwait", "poll", "ppoll", "readv", "writev", "getpid", "access", "faccessat2",
		"readlink", "readlinkat", "fcntl", "dup3", "pipe2", "wait4", "execve", "exit_group", "sendmsg", "recvmsg",
		"nanosleep", "clock_nanosleep", "sched_yield", "getrandom", "unlinkat", "renameat2", "mkdirat", "fsync"} {
		nr, ok := info.SyscallNames[name]
		if !ok {
			continue
		}
		if !constAllow(t, prog, uint32(info.ID), uint32(nr)) {
			t.Errorf("%s (%d) runs the filter on every call: it should be allowed on its number alone", name, nr)
		}
	}
	// And the cache must never swallow a conditional rule (openat's mode is checked for the
	// setuid and setgid bits, so every open pays a short run of the filter).
	for _, name := range []string{"ioctl", "clone", "personality", "fchmodat", "chmod", "openat"} {
		nr := info.SyscallNames[name]
		if constAllow(t, prog, uint32(info.ID), uint32(nr)) {
			t.Errorf("%s is allowed on its number alone, but its rule looks at its arguments", name)
		}
	}
}
