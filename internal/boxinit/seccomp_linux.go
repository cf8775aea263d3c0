package boxinit

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// loadSeccomp installs the sandbox policy (internal/boxinit/seccompfilter, assembled ahead of
// time into sandboxFilters) on the calling thread (and so on every process it forks from now
// on), with no_new_privs set unless nnp is false (the thread must then hold CAP_SYS_ADMIN in its
// user namespace, which the kernel accepts instead).
func loadSeccomp(nnp bool) error {
	if !seccompSupported() {
		return fmt.Errorf("this kernel has no seccomp filter support")
	}
	raw, ok := sandboxFilters[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("paddock has no seccomp filter for %s", runtime.GOARCH)
	}
	if nnp {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
	}
	return installFilter(raw)
}

// seccompSupported reports whether the kernel has seccomp filters: asked to install a filter
// from a null program, such a kernel answers EFAULT, one without answers EINVAL.
func seccompSupported() bool {
	err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, 0, 0, 0)
	return errors.Is(err, unix.EFAULT)
}
