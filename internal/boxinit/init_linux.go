package boxinit

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/execproto"
	"github.com/paddockhq/paddock/internal/hostpath"
	"github.com/paddockhq/paddock/internal/memtrim"
)

// Main is the entry point of the hidden init command. It never returns while the sandbox runs.
func Main() int {
	if os.Getenv(ReexecEnv) == "1" {
		var b [1]byte
		unix.Read(SyncFD, b[:])
		unix.Close(SyncFD)
		// Root of the namespace (through the ambient CAP_SETUID/CAP_SETGID the supervisor
		// passed), so that the next exec has every capability there.
		if err := syscall.Setresgid(0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "paddock init: becoming root of the namespace:", err)
			return 1
		}
		if err := syscall.Setresuid(0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "paddock init: becoming root of the namespace:", err)
			return 1
		}
		err := unix.Exec(fmt.Sprintf("/proc/self/fd/%d", ExeFD), os.Args, []string{})
		fmt.Fprintln(os.Stderr, "paddock init: re-executing with the id map:", err)
		return 1
	}
	// Not dumpable: no process in the sandbox may ptrace the init or open its /proc files (its
	// threads other than the forker keep the capabilities serving needs).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "paddock init: PR_SET_DUMPABLE:", err)
		return 1
	}
	// Die with the supervisor, also after a re-exec (which clears the parent-death signal).
	unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	debug.SetGCPercent(50)
	unix.Close(ExeFD)
	os.WriteFile("/proc/self/comm", []byte("paddock-init"), 0) // not "5", the fd it was run from
	unix.Setgroups(nil)                                        // the host user's groups mean nothing inside
	ctrlFile := os.NewFile(ControlFD, "control")
	fc, err := net.FileConn(ctrlFile)
	ctrlFile.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "paddock init: no control socket:", err)
		return 1
	}
	ctrl := execproto.NewConn(fc.(*net.UnixConn))
	cfg, egressLn, err := setup(ctrl)
	if err != nil {
		ctrl.Send(execproto.Message{Type: execproto.TypeError, Message: err.Error()})
		return 1
	}
	lnFile := os.NewFile(ListenerFD, "exec.sock")
	ln, err := net.FileListener(lnFile)
	lnFile.Close()
	if err != nil {
		ctrl.Send(execproto.Message{Type: execproto.TypeError, Message: "exec socket: " + err.Error()})
		return 1
	}
	prot := Protections{}
	if n := cfg.Hardening.Nproc; n > 0 {
		if prot.NprocRlimit, err = limitProcesses(n); err != nil {
			ctrl.Send(execproto.Message{Type: execproto.TypeError, Message: "process limit: " + err.Error()})
			return 1
		}
	}
	fk, p, err := startForker(cfg.Hardening)
	if err != nil {
		ctrl.Send(execproto.Message{Type: execproto.TypeError, Message: err.Error()})
		return 1
	}
	p.NprocRlimit = prot.NprocRlimit
	s := newServer(cfg, fk)
	go s.reap()
	go s.accept(ln.(*net.UnixListener))
	payload, _ := json.Marshal(p)
	var handed []*os.File
	if egressLn != nil {
		handed = append(handed, egressLn)
	}
	if err := ctrl.Send(execproto.Message{Type: execproto.TypeReady, Payload: payload}, handed...); err != nil {
		return 1
	}
	if egressLn != nil {
		// The supervisor holds it now: the proxy's listener lives as long as the supervisor.
		egressLn.Close()
	}
	memtrim.Keep(5 * time.Second)
	// The supervisor closing the control socket means it is gone: end the sandbox.
	go func() {
		for {
			if _, fds, err := ctrl.Recv(); err != nil {
				s.stop()
			} else {
				closeFDs(fds)
			}
		}
	}()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	<-term
	s.stop()
	return 0
}

func setup(ctrl *execproto.Conn) (*Config, *os.File, error) {
	m, fds, err := ctrl.Recv()
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	defer closeFDs(fds)
	if m.Type != execproto.TypeConfig {
		return nil, nil, fmt.Errorf("unexpected %q on control socket", m.Type)
	}
	var cfg Config
	if err := json.Unmarshal(m.Payload, &cfg); err != nil {
		return nil, nil, fmt.Errorf("bad config: %w", err)
	}
	if err := buildRoot(&cfg, fds); err != nil {
		return nil, nil, err
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return nil, nil, fmt.Errorf("hostname: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return nil, nil, fmt.Errorf("loopback: %w", err)
	}
	var ln *os.File
	if cfg.EgressPort > 0 {
		if ln, err = listenLoopback(cfg.EgressPort); err != nil {
			return nil, nil, fmt.Errorf("egress proxy listener on 127.0.0.1:%d: %w", cfg.EgressPort, err)
		}
	}
	return &cfg, ln, nil
}

// listenLoopback makes a TCP listening socket on 127.0.0.1:port in this network namespace.
func listenLoopback(port int) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, 1024); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "egress"), nil
}

func buildRoot(cfg *Config, fds []int) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	root := cfg.Root
	if cfg.Overlay != nil {
		return buildOverlayRoot(cfg, fds)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("root tmpfs on %s: %w", root, err)
	}
	for _, op := range cfg.Ops {
		if err := apply(root, op, fds); err != nil {
			return fmt.Errorf("%s %s: %w", op.Op, op.Target, err)
		}
	}
	if err := finishFiles(); err != nil {
		return err
	}
	old := filepath.Join(root, ".oldroot")
	if err := os.Mkdir(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host root: %w", err)
	}
	if err := os.Remove("/.oldroot"); err != nil {
		return err
	}
	if !cfg.SealRoot {
		return nil
	}
	// Seal the root tmpfs: nothing but the mounts on it is writable at the top level.
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", 0, &attr); err != nil {
		return fmt.Errorf("sealing the root: %w", err)
	}
	return nil
}

// oldRoot is where the host's root stays while an overlay root is built.
const oldRoot = "/.paddock-oldroot"

// buildOverlayRoot makes an OCI template's overlay the root and pivots into it first: the plan
// is then applied inside it, so symlinks the image planted resolve inside the sandbox, and host
// paths (bind sources) are reached under oldRoot until it is detached.
func buildOverlayRoot(cfg *Config, fds []int) error {
	ov := cfg.Overlay
	fd := -1
	if ov.FD > 0 {
		if ov.FD > len(fds) {
			return errors.New("missing prepared overlay root")
		}
		fd = fds[ov.FD-1]
	} else {
		// The overlay's root folder takes the upper folder's owner: root inside (under an image
		// user's mapping the calling user is that image user, not root).
		for _, d := range []string{ov.Upper, ov.Work} {
			if err := unix.Lchown(d, 0, 0); err != nil {
				return fmt.Errorf("overlay folder %s: %w", d, err)
			}
		}
		var err error
		if fd, err = OverlayMount(ov.Lower, ov.Upper, ov.Work, true); err != nil {
			return err
		}
		defer unix.Close(fd)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, cfg.Root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("placing the overlay root: %w", err)
	}
	if err := unix.Mount("", cfg.Root, "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the overlay root private: %w", err)
	}
	if err := unix.Chdir(cfg.Root); err != nil {
		return err
	}
	old := "." + oldRoot
	if st, err := os.Lstat(old); err == nil && !st.IsDir() {
		os.Remove(old)
	}
	if err := os.Mkdir(old, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s: %w", oldRoot, err)
	}
	if err := unix.PivotRoot(".", old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	for _, op := range cfg.Ops {
		if op.Source != "" && op.FD == 0 {
			op.Source = filepath.Join(oldRoot, op.Source)
		}
		if err := apply("/", op, fds); err != nil {
			return fmt.Errorf("%s %s: %w", op.Op, op.Target, err)
		}
	}
	if err := finishFiles(); err != nil {
		return err
	}
	if err := unix.Unmount(oldRoot, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host root: %w", err)
	}
	os.Remove(oldRoot)
	return nil
}

func apply(root string, op Op, fds []int) error {
	target := filepath.Join(root, op.Target)
	switch op.Op {
	case OpTmpfs:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		data := op.Data
		if op.Mode != 0 {
			data = joinOpts(data, fmt.Sprintf("mode=%o", op.Mode))
		}
		return unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data)
	case OpMkdir:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if op.Mode != 0 {
			return os.Chmod(target, os.FileMode(op.Mode&0o777)|modeBits(op.Mode))
		}
		return nil
	case OpSymlink:
		os.MkdirAll(filepath.Dir(target), 0o755)
		return os.Symlink(op.Link, target)
	case OpBind:
		return bind(target, op, fds)
	case OpProc:
		os.MkdirAll(target, 0o555)
		return unix.Mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	case OpSysfs:
		os.MkdirAll(target, 0o555)
		return unix.Mount("sysfs", target, "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
	case OpDevpts:
		os.MkdirAll(target, 0o755)
		return unix.Mount("devpts", target, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
	case OpMask:
		return mask(target)
	case OpFile:
		if op.FD < 1 || op.FD > len(fds) {
			return errors.New("missing file")
		}
		return showFile(root, target, op, fds[op.FD-1])
	case OpRebind:
		if _, err := os.Lstat(target); err != nil {
			return nil
		}
		if err := unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		return unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &attr)
	}
	return fmt.Errorf("unknown op %q", op.Op)
}

func modeBits(m uint32) os.FileMode {
	var fm os.FileMode
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

func joinOpts(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

// bind makes target show Source (or a detached mount from the supervisor), read-only if asked.
func bind(target string, op Op, fds []int) error {
	if err := makeMountpoint(target, op.File); err != nil {
		return err
	}
	if op.FD > 0 {
		if op.FD > len(fds) {
			return errors.New("missing prepared mount")
		}
		if err := unix.MoveMount(fds[op.FD-1], "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("move_mount: %w", err)
		}
	} else if !op.ID.Zero() {
		if err := bindOpened(target, op); err != nil {
			return err
		}
	} else {
		flags := uintptr(unix.MS_BIND | unix.MS_REC)
		if op.Shallow {
			flags = unix.MS_BIND
		}
		if err := unix.Mount(op.Source, target, "", flags, ""); err != nil {
			return err
		}
	}
	// Private before anything is mounted on or below it: a clone of a folder on a shared host
	// mount (root mode's idmapped binds) is a peer of that mount, and a workspace bound inside
	// the sandbox's home would otherwise appear in the host's mount table, under its state.
	if err := unix.Mount("", target, "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making it private: %w", err)
	}
	if !op.ReadOnly {
		return nil
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("making it read-only: %w", err)
	}
	return nil
}

// bindOpened mounts the folder (or file) op names, opened without following symlinks and checked
// to be the one recorded: a clone of what was opened is mounted, not the path looked up again.
func bindOpened(target string, op Op) error {
	f, err := hostpath.OpenSame(op.Source, op.ID)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if !op.Shallow {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(int(f.Fd()), "", flags)
	if err != nil {
		return fmt.Errorf("cloning %s: %w", op.Source, err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// files is the tmpfs that OpFile's files are shown from: mounted on a staging folder of a fresh
// random name in the root being built (on first use), detached once the plan is applied
// (finishFiles); the binds of its files keep it. (A detached mount of the new mount API cannot
// be cloned from on kernels before 6.15, hence the staging folder.)
var files struct {
	dir string
	n   int
}

// maxFile bounds what showFile copies: the files are paddock's own and small (a CA bundle is
// the largest, a few hundred KiB).
const maxFile = 8 << 20

// showFile copies the open file fd into the sandbox's file tmpfs (in the kernel, nothing passes
// through the init's memory) and binds it at target, read-only: its mount's root is a path in
// that tmpfs, not on the host.
func showFile(root, target string, op Op, fd int) error {
	if files.dir == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		dir := filepath.Join(root, fmt.Sprintf(".paddock-files-%x", b))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=16m"); err != nil {
			os.Remove(dir)
			return fmt.Errorf("the files' tmpfs: %w", err)
		}
		files.dir = dir
	}
	files.n++
	src := filepath.Join(files.dir, fmt.Sprintf("%d-%s", files.n, filepath.Base(op.Target)))
	if err := copyFile(src, fd); err != nil {
		return fmt.Errorf("copying %s: %w", op.Source, err)
	}
	if err := makeMountpoint(target, true); err != nil {
		return err
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	if err := unix.Mount("", target, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making it private: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(unix.AT_FDCWD, target, 0, &attr); err != nil {
		return fmt.Errorf("making it read-only: %w", err)
	}
	return nil
}

// copyFile writes the content of the open file fd (from its start) to a new file at dst.
func copyFile(dst string, fd int) error {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(dup), "source")
	defer in.Close()
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, io.LimitReader(in, maxFile+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxFile {
		err = fmt.Errorf("larger than %d MiB", maxFile>>20)
	}
	return err
}

// finishFiles detaches the files' staging folder and removes it.
func finishFiles() error {
	if files.dir == "" {
		return nil
	}
	if err := unix.Unmount(files.dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching %s: %w", files.dir, err)
	}
	err := os.Remove(files.dir)
	files.dir = ""
	return err
}

// makeMountpoint creates target (a folder, or an empty file) unless it exists; it may already
// exist on a read-only layer, where creating it would fail.
func makeMountpoint(target string, file bool) error {
	if _, err := os.Lstat(target); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if !file {
		return os.Mkdir(target, 0o755)
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// mask hides a file behind an empty read-only file and a folder behind an empty read-only tmpfs.
func mask(target string) error {
	st, err := os.Lstat(target)
	if err != nil || st.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	if st.IsDir() {
		return unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=0")
	}
	if err := unix.Mount("/dev/null", target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	return unix.MountSetattr(unix.AT_FDCWD, target, 0, &attr)
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

var stopOnce sync.Once
