package boxinit

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// OverlayMount creates a detached overlay mount of lower (top layer first) under upper and
// work, and returns its descriptor for move_mount. userxattr is for an overlay mounted inside a
// user namespace (rootless sandboxes: opaque folders carry user.overlay.opaque).
//
// Each layer is given with "lowerdir+" (Linux >= 6.8), whose values are not limited to the 256
// bytes fsconfig allows one string; older kernels get a single "lowerdir" option.
func OverlayMount(lower []string, upper, work string, userxattr bool) (int, error) {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("overlayfs: %w", err)
	}
	defer unix.Close(fsfd)
	if userxattr {
		if err := unix.FsconfigSetFlag(fsfd, "userxattr"); err != nil {
			return -1, fmt.Errorf("overlayfs userxattr (needs Linux >= 5.11): %w", err)
		}
	}
	for i, l := range lower {
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
			if i > 0 || !errors.Is(err, unix.EINVAL) {
				return -1, fmt.Errorf("overlay layer %s: %w", l, err)
			}
			esc := make([]string, len(lower))
			for j, p := range lower {
				esc[j] = strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p)
			}
			if err := unix.FsconfigSetString(fsfd, "lowerdir", strings.Join(esc, ":")); err != nil {
				return -1, fmt.Errorf("overlay layers (this kernel takes at most 256 bytes of layer paths; Linux >= 6.8 takes any): %w", err)
			}
			break
		}
	}
	if err := unix.FsconfigSetString(fsfd, "upperdir", upper); err != nil {
		return -1, fmt.Errorf("overlay upper folder %s: %w", upper, err)
	}
	if err := unix.FsconfigSetString(fsfd, "workdir", work); err != nil {
		return -1, fmt.Errorf("overlay work folder %s: %w", work, err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("creating the overlay root: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return -1, fmt.Errorf("mounting the overlay root: %w", err)
	}
	return mfd, nil
}
