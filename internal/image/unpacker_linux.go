package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/fsutil"
	"github.com/paddockhq/paddock/internal/idmap"
)

// HelperCommand is the hidden command that unpacks or removes layers inside a user namespace
// mapped as the user's rootless sandboxes are (paddock re-executes itself with it).
const HelperCommand = "__image"

// syncEnv tells the helper to wait on fd 3 until newuidmap/newgidmap wrote its maps, then to
// re-execute itself so that it runs as root of the namespace with every capability there.
const syncEnv = "PADDOCK_IMAGE_SYNC"

// unpacker lays layers out in one flavour.
type unpacker interface {
	// unpack extracts the uncompressed layer tar r into dest (which must not exist), reads r
	// to its end and syncs the filesystem.
	unpack(r io.Reader, dest string) (LayerInfo, error)
	// remove deletes folders of the flavour's layer cache.
	remove(paths ...string) error
}

func newUnpacker(f Flavour) unpacker {
	if f.Rootless {
		return userUnpacker{f}
	}
	return hostUnpacker{f}
}

// hostUnpacker unpacks in this process: root shifts owners itself.
type hostUnpacker struct{ f Flavour }

func (h hostUnpacker) unpack(r io.Reader, dest string) (LayerInfo, error) {
	info, err := extract(r, dest, extractOptions{mapID: h.f.mapID, opaqueXattrs: h.f.opaqueXattrs()})
	if err != nil {
		return info, err
	}
	_, err = io.Copy(io.Discard, r)
	return info, err
}

func (h hostUnpacker) remove(paths ...string) error {
	var first error
	for _, p := range paths {
		if err := fsutil.RemoveTree(p); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// userUnpacker runs the helper in a new user namespace: its files get the owners a rootless
// sandbox will see (the kernel maps namespace ids to the user's subordinate ids).
type userUnpacker struct{ f Flavour }

// helperReply is the helper's answer on its stdout.
type helperReply struct {
	Info    LayerInfo `json:"info"`
	Error   string    `json:"error,omitempty"`
	BadData bool      `json:"bad_layer,omitempty"`
	NoSpace bool      `json:"no_space,omitempty"`
}

func (u userUnpacker) unpack(r io.Reader, dest string) (LayerInfo, error) {
	fj, _ := json.Marshal(u.f)
	out, err := u.run(r, "unpack", dest, string(fj))
	var rep helperReply
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		if err == nil {
			err = fmt.Errorf("unpacking in a user namespace: unreadable answer %q", out)
		}
		return LayerInfo{}, err
	}
	switch {
	case rep.NoSpace:
		return rep.Info, fsErr(syscall.ENOSPC)
	case rep.BadData:
		return rep.Info, fmt.Errorf("%w: %s", ErrBadLayer, strings.TrimPrefix(rep.Error, ErrBadLayer.Error()+": "))
	case rep.Error != "":
		return rep.Info, errors.New(rep.Error)
	}
	return rep.Info, err
}

func (u userUnpacker) remove(paths ...string) error {
	if len(paths) == 0 {
		return nil
	}
	out, err := u.run(nil, append([]string{"rm"}, paths...)...)
	if err != nil {
		return fmt.Errorf("removing layers in a user namespace: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// run starts the helper in a new user namespace with the flavour's maps and returns its stdout.
func (u userUnpacker) run(stdin io.Reader, args ...string) ([]byte, error) {
	cmd, errb := u.command(stdin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := u.start(cmd); err != nil {
		return nil, err
	}
	err := cmd.Wait()
	if err != nil && out.Len() == 0 {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), err
}

// start starts a helper command in a new user namespace with the flavour's maps.
func (u userUnpacker) start(cmd *exec.Cmd) error {
	sys := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, Pdeathsig: syscall.SIGKILL}
	var syncW *os.File
	if u.f.Squash {
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: u.f.UID, Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: u.f.GID, Size: 1}}
		sys.GidMappingsEnableSetgroups = false
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		defer w.Close()
		syncW = w
		// CAP_SETUID/CAP_SETGID survive the first exec (made before the maps exist), so that
		// the helper can become root of the namespace once they do, also where the calling user
		// is not root inside (an image user's flavour).
		sys.AmbientCaps = []uintptr{unix.CAP_SETUID, unix.CAP_SETGID}
		cmd.ExtraFiles = []*os.File{r}
		cmd.Env = append(os.Environ(), syncEnv+"=1")
	}
	cmd.SysProcAttr = sys
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the unpacker in a user namespace: %w (does this host allow unprivileged user namespaces? see `paddock doctor`)", err)
	}
	if syncW != nil {
		tools := idmap.Lookup()
		ids := idmap.Subordinate{NewUIDMap: tools.NewUIDMap, NewGIDMap: tools.NewGIDMap, UID: u.f.UID, GID: u.f.GID, UIDStart: u.f.UIDStart, UIDCount: u.f.UIDCount,
			GIDStart: u.f.GIDStart, GIDCount: u.f.GIDCount, AsUID: u.f.AsUID, AsGID: u.f.AsGID}
		if err := ids.Apply(cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return err
		}
		syncW.Write([]byte{1})
		syncW.Close()
	}
	return nil
}

// HelperMain is the hidden command's entry point (args after the command name).
func HelperMain(args []string) int {
	if os.Getenv(syncEnv) != "" {
		sync := os.NewFile(3, "sync")
		var b [1]byte
		if n, _ := sync.Read(b[:]); n != 1 {
			fmt.Fprintln(os.Stderr, "paddock: the id maps of the unpacker were not written")
			return 1
		}
		sync.Close()
		os.Unsetenv(syncEnv)
		if err := becomeRoot(); err != nil {
			fmt.Fprintln(os.Stderr, "paddock: becoming root of the unpacker's namespace:", err)
			return 1
		}
		// Re-executed as root of the namespace (now mapped), with all its capabilities.
		err := syscall.Exec("/proc/self/exe", os.Args, os.Environ())
		fmt.Fprintln(os.Stderr, "paddock: re-executing the unpacker:", err)
		return 1
	}
	if len(args) < 1 {
		return 2
	}
	switch args[0] {
	case "unpack":
		if len(args) != 3 {
			return 2
		}
		var f Flavour
		if err := json.Unmarshal([]byte(args[2]), &f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		info, err := hostUnpacker{f}.unpack(os.Stdin, args[1])
		rep := helperReply{Info: info}
		if err != nil {
			rep.Error = err.Error()
			rep.BadData = errors.Is(err, ErrBadLayer)
			rep.NoSpace = errors.Is(err, ErrNoSpace)
			// Leave nothing behind; the caller removes the rest of its temporary folder.
			os.RemoveAll(args[1])
		}
		json.NewEncoder(os.Stdout).Encode(rep)
		if err != nil {
			return 1
		}
		return 0
	case "tar":
		if len(args) != 2 || !filepath.IsAbs(args[1]) {
			return 2
		}
		if err := writeLayerTar(args[1], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "rm":
		code := 0
		for _, p := range args[1:] {
			if !filepath.IsAbs(p) {
				continue
			}
			if err := fsutil.RemoveTree(p); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}
		return code
	}
	return 2
}

// becomeRoot makes the process root of its user namespace (it holds CAP_SETUID and CAP_SETGID
// there as ambient capabilities), so that its next exec has every capability there.
func becomeRoot() error {
	if err := syscall.Setresgid(0, 0, 0); err != nil {
		return err
	}
	return syscall.Setresuid(0, 0, 0)
}
