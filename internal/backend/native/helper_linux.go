package native

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// A sandbox runs paddock's binary as ssh's ProxyCommand (/run/paddock/paddock). A bind mount of
// the installed binary would show where it is installed in the sandbox's mount table; it is bound
// instead from a copy kept outside PADDOCK_HOME and shared by every sandbox of the user (one
// copy per build, made by the first start that needs it; a copy in each sandbox's own tmpfs
// would cost its 19 MB of every sandbox's memory limit). A new build's copy replaces the others.

// helperDir is where the shared copies are kept: the first of /run/paddock/bin and
// /var/lib/paddock/bin as root; rootless, of $XDG_RUNTIME_DIR/paddock/bin, /tmp/paddock-UID and
// ~/.cache/paddock/bin; whose filesystem lets programs run (/run is noexec on many hosts).
// "" when there is none.
func helperDir() string {
	var dirs []string
	if os.Geteuid() == 0 {
		dirs = []string{"/run/paddock/bin", "/var/lib/paddock/bin"}
	} else {
		if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
			dirs = append(dirs, filepath.Join(x, "paddock", "bin"))
		}
		dirs = append(dirs, filepath.Join(os.TempDir(), fmt.Sprintf("paddock-%d", os.Geteuid())))
		if h, err := os.UserHomeDir(); err == nil {
			dirs = append(dirs, filepath.Join(h, ".cache", "paddock", "bin"))
		}
	}
	for _, d := range dirs {
		var st syscall.Statfs_t
		if syscall.Statfs(existingParent(d), &st) == nil && st.Flags&stNoexec == 0 {
			return d
		}
	}
	return ""
}

const stNoexec = 0x8 // ST_NOEXEC

// helperPath is the shared copy of the binary at exe: named by its identity and size, so that
// another build gets a copy of its own.
func helperPath(exe string) (string, bool) {
	dir := helperDir()
	var st syscall.Stat_t
	if dir == "" || syscall.Stat(exe, &st) != nil {
		return "", false
	}
	return filepath.Join(dir, fmt.Sprintf("paddock-%x-%x-%x-%x", st.Dev, st.Ino, st.Size, st.Mtim.Nano())), true
}

// helperCopy returns the shared copy of exe if it is there, a regular file in a folder of this
// user's that nobody else may write (never a link or anything another user planted).
func helperCopy(exe string) (string, bool) {
	p, ok := helperPath(exe)
	if !ok {
		return "", false
	}
	for _, q := range []string{filepath.Dir(p), p} {
		var st syscall.Stat_t
		if syscall.Lstat(q, &st) != nil || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
			return "", false
		}
		if want := uint32(syscall.S_IFREG); q == p && st.Mode&syscall.S_IFMT != want {
			return "", false
		}
		if want := uint32(syscall.S_IFDIR); q != p && st.Mode&syscall.S_IFMT != want {
			return "", false
		}
	}
	return p, true
}

// ensureHelper makes the shared copy of exe unless it is there. Failing leaves the sandbox to
// bind the installed binary (the plan falls back to it).
func ensureHelper(exe string) {
	if _, ok := helperCopy(exe); ok {
		return
	}
	p, ok := helperPath(exe)
	if !ok {
		return
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	var st syscall.Stat_t
	if syscall.Lstat(dir, &st) != nil || int(st.Uid) != os.Geteuid() || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return
	}
	os.Chmod(dir, 0o755)
	in, err := os.Open(exe)
	if err != nil {
		return
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".new-")
	if err != nil {
		return
	}
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return
	}
	// Copies of other builds go (/run is memory on most hosts): a running sandbox keeps the one
	// it shows, and a sandbox starting from another build binds that build's binary instead.
	old, _ := filepath.Glob(filepath.Join(dir, "paddock-*"))
	for _, o := range old {
		if o != p {
			os.Remove(o)
		}
	}
}
