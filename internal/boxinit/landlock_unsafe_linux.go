package boxinit

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Write-like filesystem rights Landlock restricts, by the ABI version that introduced them.
const (
	llWriteV1 = unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR |
		unix.LANDLOCK_ACCESS_FS_REMOVE_FILE | unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR |
		unix.LANDLOCK_ACCESS_FS_MAKE_REG | unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO |
		unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK | unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	llReferV2    = unix.LANDLOCK_ACCESS_FS_REFER
	llTruncateV3 = unix.LANDLOCK_ACCESS_FS_TRUNCATE
)

// landlockABI is the kernel's Landlock ABI version, 0 when Landlock is unavailable.
func landlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// restrictWrites limits the calling thread, and every process it forks from now on, to writing
// beneath the given folders. It needs no_new_privs set first.
func restrictWrites(abi int, writable []string) error {
	handled := uint64(llWriteV1)
	if abi >= 2 {
		handled |= llReferV2
	}
	// Truncation (ABI 3) is not handled: Landlock then checks it on every open, read-only ones
	// too, which costs file-heavy work measurably; truncating is a write, and every host folder
	// outside the writable ones is a read-only mount anyway.
	attr := unix.LandlockRulesetAttr{Handled_access_fs: handled}
	rs, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return fmt.Errorf("landlock ruleset: %w", errno)
	}
	defer unix.Close(int(rs))
	for _, p := range writable {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // a folder that does not exist needs no rule
		}
		var st unix.Stat_t
		access := handled
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// Rules on files may only carry file rights.
			access &= unix.LANDLOCK_ACCESS_FS_WRITE_FILE | llTruncateV3
		}
		rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, rs, unix.LANDLOCK_RULE_PATH_BENEATH,
			uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
		unix.Close(fd)
		if errno != 0 {
			return fmt.Errorf("landlock rule for %s: %w", p, errno)
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, rs, 0, 0); errno != 0 {
		return fmt.Errorf("landlock: %w", errno)
	}
	return nil
}
