package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// extractOptions say how a layer's entries land on disk.
type extractOptions struct {
	// mapID turns an image owner into the owner to give the file here (the host's in root mode,
	// the namespace's in a user namespace), and says whether it had to be squashed.
	mapID func(uid, gid int) (int, int, bool)
	// opaqueXattrs are set to "y" on opaque directories: trusted.overlay.opaque for an overlay
	// mounted by real root, user.overlay.opaque for one mounted with the userxattr option.
	opaqueXattrs []string
}

// dirTime is a directory's mtime, set once every entry inside it is written.
type dirTime struct {
	rel   string
	mtime time.Time
}

// extractor writes one layer under a root folder without ever following a symlink: every entry
// is created relative to a descriptor of its parent folder, opened component by component with
// O_NOFOLLOW, so nothing a layer plants can redirect a write outside it.
type extractor struct {
	rootFd   int
	o        extractOptions
	info     LayerInfo
	dirs     map[string]int
	dirTimes []dirTime
	buf      []byte
	rootUID  int
	rootGID  int
}

// errNotDir is a parent path that is a symlink or a file in this layer.
var errNotDir = errors.New("parent is not a directory")

// extract unpacks the uncompressed layer tar r into dest, which must not exist yet; it stops at
// the tar's end (the caller drains what follows, to finish its digest) and syncs the filesystem.
func extract(r io.Reader, dest string, o extractOptions) (LayerInfo, error) {
	if err := os.Mkdir(dest, 0o755); err != nil {
		return LayerInfo{}, fsErr(err)
	}
	rootFd, err := unix.Open(dest, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return LayerInfo{}, fsErr(err)
	}
	e := &extractor{rootFd: rootFd, o: o, dirs: map[string]int{}, buf: make([]byte, 1<<20)}
	defer e.closeAll()
	defer unix.Close(rootFd)
	e.rootUID, e.rootGID, _ = o.mapID(0, 0)
	if err := unix.Fchown(rootFd, e.rootUID, e.rootGID); err != nil {
		return e.info, fsErr(err)
	}
	e.info.DiskSize = 4096
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return e.info, fmt.Errorf("%w: reading the layer: %v", ErrBadLayer, err)
		}
		if err := e.entry(hdr, tr); err != nil {
			return e.info, err
		}
	}
	for _, d := range e.dirTimes {
		e.setTimes(d.rel, d.mtime)
	}
	if err := unix.Syncfs(rootFd); err != nil {
		return e.info, fsErr(err)
	}
	return e.info, nil
}

func (e *extractor) closeAll() {
	for k, fd := range e.dirs {
		unix.Close(fd)
		delete(e.dirs, k)
	}
}

// cleanName makes a tar name relative to the layer root: a leading "/" is dropped, "." is the root
// (""), and a name that climbs out of the layer ("../x", "a/../../x") is refused.
func cleanName(name string) (string, error) {
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: entry name with a NUL byte", ErrBadLayer)
	}
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == "." {
		return "", nil
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: entry %q points outside the layer", ErrBadLayer, name)
	}
	return c, nil
}

func splitRel(rel string) (string, string) {
	d, b := path.Split(rel)
	return strings.TrimSuffix(d, "/"), b
}

func (e *extractor) skip(rel, why string) {
	e.info.SkippedCount++
	if len(e.info.Skipped) < 20 {
		e.info.Skipped = append(e.info.Skipped, rel+": "+why)
	}
}

// openDir returns a descriptor of folder rel (relative to the root), creating missing folders
// (owned by root, 0755) when create is set. No component may be a symlink.
func (e *extractor) openDir(rel string, create bool) (int, error) {
	if rel == "" {
		return e.rootFd, nil
	}
	if fd, ok := e.dirs[rel]; ok {
		return fd, nil
	}
	pd, base := splitRel(rel)
	pfd, err := e.openDir(pd, create)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT && create {
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil {
			return -1, fsErr(err)
		}
		if err := unix.Fchownat(pfd, base, e.rootUID, e.rootGID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return -1, fsErr(err)
		}
		e.info.DiskSize += 4096
		fd, err = unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	switch {
	case err == unix.ELOOP || err == unix.ENOTDIR:
		return -1, errNotDir
	case err == unix.ENOENT:
		return -1, errNotDir
	case err != nil:
		return -1, fsErr(err)
	}
	if len(e.dirs) >= 512 {
		e.closeAll()
	}
	e.dirs[rel] = fd
	return fd, nil
}

// forget drops cached descriptors of rel and everything under it (it was removed).
func (e *extractor) forget(rel string) {
	for k, fd := range e.dirs {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			unix.Close(fd)
			delete(e.dirs, k)
		}
	}
}

// clear removes whatever this layer already put at pfd/base, unless both it and the new entry
// are folders; it reports whether a folder stays.
func (e *extractor) clear(pfd int, rel, base string, newIsDir bool) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, fsErr(err)
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && newIsDir {
		return true, nil
	}
	if isDir {
		e.forget(rel)
		return false, removeTreeAt(pfd, base)
	}
	return false, fsErr(unix.Unlinkat(pfd, base, 0))
}

// removeTreeAt removes folder pfd/base and its content without following symlinks.
func removeTreeAt(pfd int, base string) error {
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fsErr(err)
	}
	f := os.NewFile(uintptr(fd), base)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return fsErr(err)
	}
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			f.Close()
			return fsErr(err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = removeTreeAt(fd, n)
		} else {
			err = unix.Unlinkat(fd, n, 0)
		}
		if err != nil {
			f.Close()
			return fsErr(err)
		}
	}
	f.Close()
	return fsErr(unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR))
}

// mode is the permission bits to give an entry: setuid and setgid are kept only on files owned
// by root in the image (sudo, su, passwd keep working where the sandbox allows them).
func (e *extractor) mode(hdr *tar.Header) uint32 {
	m := uint32(hdr.Mode) & 0o7777
	if hdr.Typeflag != tar.TypeDir && m&(unix.S_ISUID|unix.S_ISGID) != 0 && hdr.Uid != 0 {
		m &^= unix.S_ISUID | unix.S_ISGID
		e.info.SetIDStripped++
	} else if hdr.Typeflag == tar.TypeReg && m&unix.S_ISUID != 0 {
		e.info.SetuidRoot++
		if len(e.info.SetuidRootFiles) < 5 {
			e.info.SetuidRootFiles = append(e.info.SetuidRootFiles, "/"+strings.TrimPrefix(path.Clean("/"+hdr.Name), "/"))
		}
	}
	return m
}

func (e *extractor) owner(hdr *tar.Header) (int, int) {
	uid, gid, squashed := e.o.mapID(hdr.Uid, hdr.Gid)
	if squashed {
		e.info.Squashed++
	}
	return uid, gid
}

func (e *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	e.info.Entries++
	if rel == "" {
		if hdr.Typeflag == tar.TypeDir {
			uid, gid := e.owner(hdr)
			if err := unix.Fchown(e.rootFd, uid, gid); err != nil {
				return fsErr(err)
			}
			if err := unix.Fchmod(e.rootFd, e.mode(hdr)); err != nil {
				return fsErr(err)
			}
			e.dirTimes = append(e.dirTimes, dirTime{"", hdr.ModTime})
		}
		return nil
	}
	dir, base := splitRel(rel)
	if strings.HasPrefix(base, ".wh.") {
		return e.whiteout(rel, dir, base)
	}
	pfd, err := e.openDir(dir, true)
	if errors.Is(err, errNotDir) {
		e.skip(rel, "under a symlink or a file of this layer")
		return nil
	}
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return e.dir(pfd, rel, base, hdr)
	case tar.TypeReg, tar.TypeRegA, tar.TypeCont, tar.TypeGNUSparse:
		return e.file(pfd, rel, base, hdr, r)
	case tar.TypeSymlink:
		return e.symlink(pfd, rel, base, hdr)
	case tar.TypeLink:
		return e.hardlink(pfd, rel, base, hdr)
	case tar.TypeFifo:
		if _, err := e.clear(pfd, rel, base, false); err != nil {
			return err
		}
		if err := unix.Mknodat(pfd, base, unix.S_IFIFO|0o600, 0); err != nil {
			return fsErr(err)
		}
		return e.finish(pfd, rel, base, hdr, -1)
	case tar.TypeChar, tar.TypeBlock:
		// A sandbox has its own /dev; a device node in a layer is never needed, and in a
		// user namespace it could not be opened anyway.
		e.skip(rel, "device node")
		return nil
	default:
		e.skip(rel, fmt.Sprintf("unsupported tar entry type %q", hdr.Typeflag))
		return nil
	}
}

func (e *extractor) dir(pfd int, rel, base string, hdr *tar.Header) error {
	exists, err := e.clear(pfd, rel, base, true)
	if err != nil {
		return err
	}
	if !exists {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fsErr(err)
		}
		e.info.DiskSize += 4096
	}
	uid, gid := e.owner(hdr)
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fsErr(err)
	}
	// Only this process writes here, and base is a folder we made or checked: no symlink race.
	if err := unix.Fchmodat(pfd, base, e.mode(hdr), 0); err != nil {
		return fsErr(err)
	}
	if x := keptXattrs(hdr); len(x) > 0 {
		fd, err := e.openDir(rel, false)
		if err != nil {
			return fsErr(err)
		}
		e.setXattrs(fd, rel, hdr)
	} else {
		e.skipXattrs(rel, hdr)
	}
	e.dirTimes = append(e.dirTimes, dirTime{rel, hdr.ModTime})
	return nil
}

// writerOnly hides os.File's ReadFrom so io.CopyBuffer uses our large buffer.
type writerOnly struct{ io.Writer }

func (e *extractor) file(pfd int, rel, base string, hdr *tar.Header, r io.Reader) error {
	if _, err := e.clear(pfd, rel, base, false); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fsErr(err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	n, err := io.CopyBuffer(writerOnly{f}, r, e.buf)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fsErr(pe.Err)
		}
		return fmt.Errorf("%w: reading %s: %v", ErrBadLayer, rel, err)
	}
	if n != hdr.Size {
		return fmt.Errorf("%w: %s is truncated", ErrBadLayer, rel)
	}
	e.setXattrs(fd, rel, hdr)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		e.info.DiskSize += st.Blocks * 512
	}
	return e.finish(pfd, rel, base, hdr, fd)
}

// finish gives an entry its owner, mode and times (fd is its descriptor, or -1).
func (e *extractor) finish(pfd int, rel, base string, hdr *tar.Header, fd int) error {
	uid, gid := e.owner(hdr)
	mode := e.mode(hdr)
	if fd >= 0 {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fsErr(err)
		}
		if err := unix.Fchmod(fd, mode); err != nil {
			return fsErr(err)
		}
	} else {
		if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fsErr(err)
		}
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return fsErr(err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	return nil
}

// symlink keeps the link as the image has it, whatever it points to: it is resolved only inside
// the sandbox, against the sandbox's root; paddock itself never follows a link in the cache.
func (e *extractor) symlink(pfd int, rel, base string, hdr *tar.Header) error {
	if hdr.Linkname == "" {
		e.skip(rel, "symlink with an empty target")
		return nil
	}
	if _, err := e.clear(pfd, rel, base, false); err != nil {
		return err
	}
	if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
		return fsErr(err)
	}
	if len(hdr.Linkname) >= 60 {
		e.info.DiskSize += 4096
	}
	uid, gid := e.owner(hdr)
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fsErr(err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	return nil
}

// hardlink links to a file this layer already wrote; a target outside the layer is refused, one
// that is missing or a folder is skipped.
func (e *extractor) hardlink(pfd int, rel, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("%w: hard link %s -> %q points outside the layer", ErrBadLayer, rel, hdr.Linkname)
	}
	if target == "" || target == rel {
		e.skip(rel, "hard link to itself or to the layer root")
		return nil
	}
	if _, err := e.clear(pfd, rel, base, false); err != nil {
		return err
	}
	tdir, tbase := splitRel(target)
	tfd, err := e.openDir(tdir, false)
	if err != nil {
		if errors.Is(err, errNotDir) {
			e.skip(rel, "hard link to "+target+", which is not in this layer")
			return nil
		}
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		e.skip(rel, "hard link to "+target+", which is not in this layer")
		return nil
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		e.skip(rel, "hard link to a folder")
		return nil
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fsErr(err)
	}
	return nil
}

// whiteout turns ".wh.NAME" into overlayfs's whiteout (a 0/0 character device, which Linux
// lets anyone create since 5.8, in a user namespace too) and ".wh..wh..opq" into an opaque
// folder (the overlay.opaque xattr).
func (e *extractor) whiteout(rel, dir, base string) error {
	if base == ".wh..wh..opq" {
		fd, err := e.openDir(dir, true)
		if errors.Is(err, errNotDir) {
			e.skip(rel, "opaque marker under a symlink or a file")
			return nil
		}
		if err != nil {
			return err
		}
		for _, x := range e.o.opaqueXattrs {
			if err := unix.Fsetxattr(fd, x, []byte("y"), 0); err != nil {
				return fmt.Errorf("marking %s opaque (xattr %s): %w", dir, x, fsErr(err))
			}
		}
		e.info.Opaque++
		return nil
	}
	if strings.HasPrefix(base, ".wh..wh.") {
		e.skip(rel, "aufs metadata")
		return nil
	}
	name := strings.TrimPrefix(base, ".wh.")
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("%w: whiteout %q names nothing", ErrBadLayer, rel)
	}
	pfd, err := e.openDir(dir, true)
	if errors.Is(err, errNotDir) {
		e.skip(rel, "whiteout under a symlink or a file")
		return nil
	}
	if err != nil {
		return err
	}
	// A whiteout hides lower layers only: an entry of this layer with that name stays.
	var st unix.Stat_t
	if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
		return nil
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("creating the whiteout for %s: %w", path.Join(dir, name), fsErr(err))
	}
	if err := unix.Fchownat(pfd, name, e.rootUID, e.rootGID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fsErr(err)
	}
	e.info.Whiteouts++
	return nil
}

const xattrPrefix = "SCHILY.xattr."

// keptXattrs are the image's extended attributes paddock keeps: user.* only, except overlayfs's
// own (user.overlay.*), which would change how the overlay reads the layer. security.capability
// (file capabilities: ignored under no_new_privs anyway, and in root mode they would be valid
// on the host), trusted.*, ACLs (which hold unshifted ids) and SELinux labels are dropped.
func keptXattrs(hdr *tar.Header) map[string]string {
	var out map[string]string
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok || !strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	return out
}

func (e *extractor) skipXattrs(rel string, hdr *tar.Header) {
	for k := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if ok && (!strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "user.overlay.")) {
			e.skip(rel, "xattr "+name)
		}
	}
}

func (e *extractor) setXattrs(fd int, rel string, hdr *tar.Header) {
	e.skipXattrs(rel, hdr)
	for k, v := range keptXattrs(hdr) {
		if err := unix.Fsetxattr(fd, k, []byte(v), 0); err != nil {
			e.skip(rel, "xattr "+k+": "+err.Error())
		}
	}
}

func (e *extractor) setTimes(rel string, t time.Time) {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	if rel == "" {
		unix.UtimesNanoAt(e.rootFd, ".", ts, 0)
		return
	}
	dir, base := splitRel(rel)
	if pfd, err := e.openDir(dir, false); err == nil {
		unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
}
