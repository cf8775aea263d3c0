package native

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/backend"
)

// A sandbox's disk limit counts what it can write under PADDOCK_HOME: its home, /tmp and /var
// (host template) or its overlay's upper and work folders (OCI template). As root it is a project
// quota where the filesystem keeps them, else a filesystem image of its own; rootless, neither
// can be set up (quotactl and mount need root), and an asked-for limit is refused.
//
// disk.json in the state folder (paddock's, out of the sandbox's reach) records the method and,
// for quotas, the project id: both stay with the sandbox across stops, starts and --recreate.

// diskRecord is disk.json.
type diskRecord struct {
	Method  string `json:"method"`
	Project uint32 `json:"project,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`  // the image's size
	Inodes  int64  `json:"inodes,omitempty"` // the image's inode count
}

func (l layout) diskRecord() string { return filepath.Join(l.dir, "disk.json") }
func (l layout) diskImage() string  { return filepath.Join(l.dir, "disk.img") }
func (l layout) diskMount() string  { return filepath.Join(l.dir, "disk") }

// writable lists the folders a sandbox writes to (which its limit counts).
func (l layout) writable(oci bool) []string {
	if oci {
		return []string{l.upper(), l.work()}
	}
	return []string{l.home(), l.tmp(), l.vardir()}
}

const rootlessNoDisk = "a rootless sandbox's disk use cannot be limited (project quotas and filesystem images need root)"

// DiskSupport implements backend.DiskLimiter.
func (*Backend) DiskSupport(_ context.Context, dir string) backend.DiskSupport {
	return DiskSupport(dir)
}

// DiskSupport says how a sandbox made in dir would be limited.
func DiskSupport(dir string) backend.DiskSupport {
	if os.Geteuid() != 0 {
		return backend.DiskSupport{Reason: rootlessNoDisk}
	}
	p := existingParent(dir)
	if err := quotaOn(p); err == nil {
		return backend.DiskSupport{Method: backend.DiskQuota, Reason: "project quotas on the filesystem of " + p}
	} else if why := imageSupport(); why != "" {
		return backend.DiskSupport{Reason: fmt.Sprintf("no project quotas on the filesystem of %s (%v), and %s", p, err, why)}
	} else {
		return backend.DiskSupport{Method: backend.DiskImage, Reason: fmt.Sprintf("no project quotas on the filesystem of %s (%v): an ext4 image per sandbox (made at create, only for --disk or the disk config key)", p, err)}
	}
}

func existingParent(p string) string {
	for p != "/" {
		if _, err := os.Stat(p); err == nil {
			break
		}
		p = filepath.Dir(p)
	}
	return p
}

// imageSupport says why filesystem images cannot be used here ("" when they can).
func imageSupport() string {
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return "no loop devices (/dev/loop-control)"
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		return "no mkfs.ext4 (install e2fsprogs)"
	}
	return ""
}

// DiskStatus implements backend.DiskLimiter.
func (*Backend) DiskStatus(_ context.Context, sb *backend.Sandbox) backend.DiskStatus {
	l := newLayout(sb.Dir)
	var rec diskRecord
	if err := readJSON(l.diskRecord(), &rec); err != nil || sb.Spec.Limits.DiskBytes == 0 && rec.Method != backend.DiskImage {
		why := "no --disk given"
		if os.Geteuid() != 0 {
			why = rootlessNoDisk
		} else if s := DiskSupport(filepath.Dir(sb.Dir)); s.Method != backend.DiskQuota {
			why = "the default limit applies only with project quotas: " + s.Reason
		}
		return backend.DiskStatus{Reason: why}
	}
	st := backend.DiskStatus{Method: rec.Method, LimitBytes: sb.Spec.Limits.DiskBytes, LimitInodes: sb.Spec.Limits.DiskInodes}
	switch rec.Method {
	case backend.DiskQuota:
		if q, err := getQuota(sb.Dir, rec.Project); err == nil {
			st.UsedBytes, st.UsedInodes = int64(q.CurSpace), int64(q.CurInodes)
		}
	case backend.DiskImage:
		st.LimitBytes, st.LimitInodes = rec.Bytes, rec.Inodes
		var fs unix.Statfs_t
		if mounted(l) && unix.Statfs(l.diskMount(), &fs) == nil {
			st.UsedBytes = int64(fs.Blocks-fs.Bfree) * fs.Bsize
			st.UsedInodes = int64(fs.Files - fs.Ffree)
		}
	}
	return st
}

// DiskChange implements backend.DiskLimiter: a quota changes at the next start; an image's size
// does not change, nor does a sandbox without one get one.
func (*Backend) DiskChange(_ context.Context, sb *backend.Sandbox, lim backend.Limits) error {
	var rec diskRecord
	readJSON(layout{dir: sb.Dir}.diskRecord(), &rec)
	switch {
	case lim.DiskBytes != 0 && os.Geteuid() != 0:
		return errors.New(rootlessNoDisk)
	case rec.Method == backend.DiskImage && (lim.DiskBytes != rec.Bytes || lim.DiskInodes != rec.Inodes):
		return fmt.Errorf("the sandbox's files are on a filesystem image of %d bytes and %d inodes, whose size cannot change; remove the sandbox (its home, /tmp and /var go with it) and create it again", rec.Bytes, rec.Inodes)
	case rec.Method == "" && lim.DiskBytes != 0 && DiskSupport(filepath.Dir(sb.Dir)).Method != backend.DiskQuota:
		return errors.New("a limit can be added to an existing sandbox only with project quotas, which the filesystem holding PADDOCK_HOME does not have; remove the sandbox and create it again with --disk")
	}
	return nil
}

// setupDisk applies the sandbox's disk limit before its folders are prepared: it makes or
// mounts its filesystem image, or picks its quota project. applyQuota follows prepare.
func setupDisk(sb *backend.Sandbox) error {
	l := newLayout(sb.Dir)
	lim := sb.Spec.Limits
	var rec diskRecord
	if err := readJSON(l.diskRecord(), &rec); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", l.diskRecord(), err)
	}
	if rec.Method == "" && lim.DiskBytes == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		if lim.DiskBytes == 0 {
			return nil
		}
		return errors.New(rootlessNoDisk)
	}
	if rec.Method == "" {
		switch s := DiskSupport(filepath.Dir(sb.Dir)); s.Method {
		case backend.DiskQuota:
			p, err := pickProject(sb.Dir, sb.ID)
			if err != nil {
				return fmt.Errorf("choosing a quota project: %w", err)
			}
			rec = diskRecord{Method: backend.DiskQuota, Project: p}
		case backend.DiskImage:
			if hasState(l) {
				return errors.New("the sandbox's files exist outside a filesystem image; remove the sandbox and create it again with --disk")
			}
			if err := makeImage(l, lim.DiskBytes, lim.DiskInodes); err != nil {
				return err
			}
			rec = diskRecord{Method: backend.DiskImage, Bytes: lim.DiskBytes, Inodes: lim.DiskInodes}
		default:
			return fmt.Errorf("--disk: %s", s.Reason)
		}
		if err := writeJSON(l.diskRecord(), rec); err != nil {
			return err
		}
	}
	if rec.Method == backend.DiskImage {
		return mountImage(l)
	}
	return nil
}

// hasState reports whether the sandbox already has writable folders on the host's filesystem.
func hasState(l layout) bool {
	for _, p := range []string{l.home(), l.upper()} {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

// applyQuota tags the sandbox's writable folders with its project (new files inherit it) and
// sets the project's limits. Files made before the sandbox had a project (a limit added with
// --recreate) are tagged once, walking the stopped sandbox's folders without following links.
func applyQuota(sb *backend.Sandbox, oci bool) error {
	l := newLayout(sb.Dir)
	var rec diskRecord
	if err := readJSON(l.diskRecord(), &rec); err != nil || rec.Method != backend.DiskQuota {
		return nil
	}
	tagged := filepath.Join(sb.Dir, "disk.tagged")
	_, err := os.Stat(tagged)
	walk := err != nil
	for _, d := range l.writable(oci) {
		if walk {
			err = tagTree(d, rec.Project)
		} else {
			// The folders themselves at every start: one made afresh (an OCI upper folder over a
			// new image) must pass the project on to what is made in it.
			err = tagTree(d, rec.Project, true)
		}
		if err != nil {
			return fmt.Errorf("tagging %s with quota project %d: %w", d, rec.Project, err)
		}
	}
	if walk {
		if err := os.WriteFile(tagged, nil, 0o600); err != nil {
			return err
		}
	}
	lim := sb.Spec.Limits
	return setQuota(sb.Dir, rec.Project, lim.DiskBytes, lim.DiskInodes)
}

// tagTree sets project p, with inheritance on folders, on root and what is beneath it (only root
// with topOnly): only folders and regular files, each opened without following a link or
// blocking.
func tagTree(root string, p uint32, topOnly ...bool) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if len(topOnly) > 0 && path != root {
			return fs.SkipAll
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return setProject(fd, p, d.IsDir())
	})
}

// fsxattr is struct fsxattr of linux/fs.h.
type fsxattr struct {
	XFlags     uint32
	ExtSize    uint32
	NExtents   uint32
	ProjID     uint32
	CowExtSize uint32
	_          [8]byte
}

const (
	fsIocGetXattr      = 0x801c581f // FS_IOC_FSGETXATTR
	fsIocSetXattr      = 0x401c5820 // FS_IOC_FSSETXATTR
	fsXflagProjInherit = 0x200
)

func setProject(fd int, p uint32, dir bool) error {
	var x fsxattr
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIocGetXattr, uintptr(unsafe.Pointer(&x))); e != 0 {
		return e
	}
	x.ProjID = p
	if dir {
		x.XFlags |= fsXflagProjInherit
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIocSetXattr, uintptr(unsafe.Pointer(&x))); e != 0 {
		return e
	}
	return nil
}

// Quota commands (linux/quota.h), for project quotas.
const (
	prjQuota   = 2
	qGetInfo   = 0x800005
	qGetQuota  = 0x800007
	qSetQuota  = 0x800008
	qifBLimits = 1
	qifILimits = 4
)

// dqblk is struct if_dqblk.
type dqblk struct {
	BHardLimit, BSoftLimit, CurSpace  uint64
	IHardLimit, ISoftLimit, CurInodes uint64
	BTime, ITime                      uint64
	Valid                             uint32
	_                                 uint32
}

// quotactl runs a project-quota command on the filesystem holding path (quotactl_fd, Linux 5.14).
func quotactl(path string, cmd int, id uint32, addr unsafe.Pointer) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if _, _, e := unix.Syscall6(unix.SYS_QUOTACTL_FD, uintptr(fd), uintptr(cmd<<8|prjQuota), uintptr(id), uintptr(addr), 0, 0); e != 0 {
		return e
	}
	return nil
}

// quotaOn says why project quotas cannot be used on the filesystem holding path (nil: they can).
func quotaOn(path string) error {
	var info [72]byte // struct if_dqinfo
	err := quotactl(path, qGetInfo, 0, unsafe.Pointer(&info[0]))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSYS):
		return errors.New("the kernel has no quota support")
	case errors.Is(err, syscall.ESRCH):
		return errors.New("project quotas are off: mount it with prjquota (XFS: pquota)")
	case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOTTY), errors.Is(err, syscall.EINVAL):
		return errors.New("the filesystem has no project quotas")
	}
	return err
}

// getQuota reads project p's limits and use; a project the filesystem keeps no record of (XFS
// answers ENOENT where ext4 answers zeroes) has none.
func getQuota(path string, p uint32) (dqblk, error) {
	var q dqblk
	err := quotactl(path, qGetQuota, p, unsafe.Pointer(&q))
	if errors.Is(err, syscall.ENOENT) {
		return dqblk{}, nil
	}
	return q, err
}

// setQuota sets project p's hard limits (0: none).
func setQuota(path string, p uint32, bytes, inodes int64) error {
	q := dqblk{BHardLimit: uint64(bytes+1023) / 1024, IHardLimit: uint64(inodes), Valid: qifBLimits | qifILimits}
	return quotactl(path, qSetQuota, p, unsafe.Pointer(&q))
}

// pickProject chooses an unused project id for a sandbox, from its id: one with no use and no
// limits on the filesystem.
func pickProject(dir, id string) (uint32, error) {
	var h uint32 = 2166136261
	for _, c := range []byte(id) {
		h = (h ^ uint32(c)) * 16777619
	}
	for i := uint32(0); i < 64; i++ {
		p := 1<<24 + (h+i)%(1<<30)
		q, err := getQuota(existingParent(dir), p)
		if err != nil {
			return 0, err
		}
		if q.CurSpace == 0 && q.CurInodes == 0 && q.BHardLimit == 0 && q.IHardLimit == 0 {
			return p, nil
		}
	}
	return 0, errors.New("no free project id")
}

// makeImage makes the sandbox's filesystem image: a sparse file of the limit's size with an
// ext4 filesystem of exactly the limit's inodes, no blocks reserved for root.
func makeImage(l layout, bytes, inodes int64) error {
	if err := ensureDir(l.diskMount(), 0o755); err != nil {
		return err
	}
	tmp := l.diskImage() + ".new"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(bytes)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", "-N", fmt.Sprint(inodes), "-L", "paddock",
		"-E", "root_owner=0:0,nodiscard", tmp).CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("making the sandbox's filesystem image (%d bytes, %d inodes): %v: %s", bytes, inodes, err, strings.TrimSpace(string(out)))
	}
	return os.Rename(tmp, l.diskImage())
}

// mounted reports whether the sandbox's image is mounted on its folder.
func mounted(l layout) bool {
	var a, b unix.Stat_t
	return unix.Lstat(l.dir, &a) == nil && unix.Lstat(l.diskMount(), &b) == nil && a.Dev != b.Dev
}

// mountImage mounts the sandbox's image on its folder in the host's mount namespace (the
// sandbox's namespace is made from it), through a loop device that goes when it is unmounted.
func mountImage(l layout) error {
	if mounted(l) {
		return nil
	}
	if err := ensureDir(l.diskMount(), 0o755); err != nil {
		return err
	}
	img, err := os.OpenFile(l.diskImage(), os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer img.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer ctl.Close()
	for try := 0; ; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return fmt.Errorf("getting a loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		lo, err := os.OpenFile(dev, os.O_RDWR|syscall.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		cfg := unix.LoopConfig{Fd: uint32(img.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:], l.diskImage())
		err = unix.IoctlLoopConfigure(int(lo.Fd()), &cfg)
		if errors.Is(err, unix.EBUSY) && try < 10 {
			lo.Close()
			continue // another process took it first
		}
		if err != nil {
			lo.Close()
			return fmt.Errorf("attaching %s to %s: %w", l.diskImage(), dev, err)
		}
		err = unix.Mount(dev, l.diskMount(), "ext4", unix.MS_NOSUID|unix.MS_NODEV, "")
		lo.Close() // autoclear: the device goes with the mount (or now, if the mount failed)
		if err != nil {
			return fmt.Errorf("mounting the sandbox's filesystem image %s: %w", l.diskImage(), err)
		}
		return nil
	}
}

// unmountImage unmounts the image of a stopped sandbox (its loop device goes with it).
func unmountImage(dir string) error {
	l := layout{dir: dir}
	for mounted(l) {
		if err := unix.Unmount(l.diskMount(), unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting %s: %w", l.diskMount(), err)
		}
	}
	return nil
}

// clearQuota drops the limits of a removed sandbox's project.
func clearQuota(dir string) {
	var rec diskRecord
	if readJSON(layout{dir: dir}.diskRecord(), &rec) == nil && rec.Method == backend.DiskQuota {
		setQuota(filepath.Dir(dir), rec.Project, 0, 0)
	}
}

var _ backend.DiskLimiter = (*Backend)(nil)
