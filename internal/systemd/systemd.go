// Package systemd talks to the host's service manager over D-Bus: a transient scope unit per
// sandbox (with a delegated cgroup subtree), and the user's lingering (whether the user's
// manager, and the sandboxes in it, outlive the user's last login session). paddock talks to it
// only when a sandbox starts, never on exec or when a running sandbox is reused.
package systemd

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// Slice is the slice unit holding every sandbox's scope, in the system manager (root) or the
// user's own manager: `systemctl [--user] status paddock.slice` lists the sandboxes.
const Slice = "paddock.slice"

// ErrUnavailable says there is no systemd manager to ask (not systemd as PID 1, or no user
// manager reachable for this user).
var ErrUnavailable = errors.New("no systemd manager to ask")

// Booted reports whether systemd is the host's init (sd_booted's test).
func Booted() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

// UserManager reports whether this (unprivileged) user has a running systemd user manager whose
// bus can be reached: $XDG_RUNTIME_DIR/systemd exists (the manager made it) and a session bus
// address is known or $XDG_RUNTIME_DIR/bus exists.
func UserManager() error {
	if !Booted() {
		return fmt.Errorf("%w: systemd is not this host's init", ErrUnavailable)
	}
	rt := runtimeDir()
	if _, err := os.Stat(filepath.Join(rt, "systemd")); err != nil {
		return fmt.Errorf("%w: no systemd user manager runs for uid %d (%s/systemd is missing)", ErrUnavailable, os.Geteuid(), rt)
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(rt, "bus")); err != nil {
		return fmt.Errorf("%w: the user's D-Bus session bus (%s/bus) is missing; install dbus-user-session", ErrUnavailable, rt)
	}
	return nil
}

// runtimeDir is $XDG_RUNTIME_DIR, or the systemd default /run/user/UID.
func runtimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return d
	}
	return "/run/user/" + strconv.Itoa(os.Geteuid())
}

// Lingering reports whether logind keeps this user's manager running without a login session.
func Lingering() (bool, string) {
	name := strconv.Itoa(os.Geteuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	_, err := os.Stat(filepath.Join("/var/lib/systemd/linger", name))
	return err == nil, name
}

// LingerFix is the command that lets user's sandboxes outlive the user's login sessions.
func LingerFix(name string) string { return "sudo loginctl enable-linger " + name }
