package fsutil

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrMountBelow says a tree holds a mount point, so it was not removed.
var ErrMountBelow = errors.New("a mount point lies below it")

// RemoveTree deletes dir, which must not hold a mount point. It cannot cross one by
// construction: every folder is opened relative to its parent with openat2's RESOLVE_NO_XDEV
// (which fails on any mount crossing, a bind mount of the same filesystem included), and a
// first pass compares every entry's mount id with the top's, so that a tree with a mount point
// anywhere below is refused before anything is deleted. Symlinks are removed, never followed.
func RemoveTree(dir string) error {
	top, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return os.Remove(dir) // a file or symlink in its place: removed, not followed
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	defer unix.Close(top)
	mnt, err := mountID(top, "")
	if err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	if err := checkTree(top, dir, mnt); err != nil {
		return err
	}
	if err := removeContents(top, dir, mnt); err != nil {
		return err
	}
	if err := unix.Rmdir(dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

// mountID is the id of the mount holding name in dirfd ("" for dirfd itself), final symlinks
// not followed.
func mountID(dirfd int, name string) (uint64, error) {
	var st unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW | unix.AT_STATX_DONT_SYNC
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Statx(dirfd, name, flags, unix.STATX_MNT_ID, &st); err != nil {
		return 0, err
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		// Kernels before 5.8: the mount id from a file handle lookup.
		_, id, err := unix.NameToHandleAt(dirfd, name, 0)
		if name == "" {
			_, id, err = unix.NameToHandleAt(dirfd, "", unix.AT_EMPTY_PATH)
		}
		if err != nil {
			return 0, fmt.Errorf("finding the mount of %s: %w", name, err)
		}
		return uint64(id), nil
	}
	return st.Mnt_id, nil
}

// openBelow opens the folder name in dirfd without following a symlink or crossing a mount.
func openBelow(dirfd int, name string) (int, error) {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH}
	fd, err := unix.Openat2(dirfd, name, &how)
	if errors.Is(err, unix.ENOSYS) {
		// Kernels before 5.6: the mount id check of checkTree and below stands alone.
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	return fd, err
}

// readNames lists the entries of the open folder fd.
func readNames(fd int) ([]string, error) {
	// The duplicate shares fd's offset: read from the start each time.
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "")
	defer f.Close()
	return f.Readdirnames(-1)
}

// checkTree refuses a tree holding a mount point; it also makes every folder readable and
// writable to us (a sandbox may have left one without permissions: it is ours to delete).
func checkTree(fd int, path string, mnt uint64) error {
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	for _, name := range names {
		p := filepath.Join(path, name)
		id, err := mountID(fd, name)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
		if id != mnt {
			return fmt.Errorf("refusing to remove %s: %s is a mount point (unmount it first; nothing was deleted): %w", path, p, ErrMountBelow)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if st.Mode&0o700 != 0o700 {
			unix.Fchmodat(fd, name, st.Mode&0o7777|0o700, 0)
		}
		sub, err := openBelow(fd, name)
		if errors.Is(err, unix.EXDEV) {
			return fmt.Errorf("refusing to remove %s: %s is a mount point (unmount it first; nothing was deleted): %w", path, p, ErrMountBelow)
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
		err = checkTree(sub, p, mnt)
		unix.Close(sub)
		if err != nil {
			return err
		}
	}
	return nil
}

// removeContents deletes everything in the open folder fd, never leaving its mount.
func removeContents(fd int, path string, mnt uint64) error {
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	for _, name := range names {
		p := filepath.Join(path, name)
		err := unix.Unlinkat(fd, name, 0)
		if err == nil || errors.Is(err, unix.ENOENT) {
			continue
		}
		if !errors.Is(err, unix.EISDIR) {
			return fmt.Errorf("removing %s: %w", p, err)
		}
		sub, err := openBelow(fd, name)
		if errors.Is(err, unix.EXDEV) {
			return fmt.Errorf("refusing to remove %s: %s is a mount point: %w", path, p, ErrMountBelow)
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
		if id, err := mountID(sub, ""); err != nil || id != mnt {
			unix.Close(sub)
			return fmt.Errorf("refusing to remove %s: %s is a mount point: %w", path, p, ErrMountBelow)
		}
		err = removeContents(sub, p, mnt)
		unix.Close(sub)
		if err != nil {
			return err
		}
		if err := unix.Unlinkat(fd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("removing %s: %w", p, err)
		}
	}
	return nil
}

// MountsBelow lists the mount points at or below dir in this process's mount namespace,
// deepest first.
func MountsBelow(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescape(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// Deepest first, later mounts (on top) before earlier ones at the same place.
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, nil
}

// DetachBelow lazily unmounts every mount point strictly below dir (what an earlier paddock
// let propagate into a sandbox's state): nothing mounted is deleted, only detached from here.
func DetachBelow(dir string) error {
	mounts, err := MountsBelow(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if m == filepath.Clean(dir) {
			continue
		}
		if err := unix.Unmount(m, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detaching %s, mounted below %s: %w", m, dir, err)
		}
	}
	return nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var n byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				n = n*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(n)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
