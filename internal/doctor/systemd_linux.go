package doctor

import (
	"os"

	"github.com/paddockhq/paddock/internal/cgroups"
	"github.com/paddockhq/paddock/internal/systemd"
)

// scopeCheck says whether sandboxes get a systemd scope of their own (with a delegated cgroup
// subtree), which is how limits work for an ordinary user from any login shell.
func scopeCheck(mode string) Check {
	c := Check{Name: "systemd scopes"}
	switch {
	case !systemd.Booted():
		c.OK = true
		c.Detail = "systemd is not this host's init: paddock makes the sandboxes' cgroups itself"
		return c
	case !cgroups.UnifiedV2():
		c.OK = true
		c.Detail = "the host mixes cgroup v1 and v2: paddock makes the sandboxes' cgroups itself"
		return c
	}
	if mode == "rootless" {
		if err := systemd.UserManager(); err != nil {
			c.Detail = err.Error()
			c.Fix = "log in through a PAM session with pam_systemd (ssh, a desktop, `machinectl shell`), so that your user manager runs"
			return c
		}
		c.OK = true
		c.Detail = "each sandbox runs in a scope of your systemd user manager (Delegate=yes): `systemctl --user status paddock.slice`"
		return c
	}
	c.OK = true
	c.Detail = "each sandbox runs in a scope of the system manager (Delegate=yes): `systemctl status paddock.slice`"
	return c
}

// lingerCheck says whether an ordinary user's sandboxes outlive the user's last login session.
func lingerCheck() Check {
	c := Check{Name: "sandboxes outlive logout"}
	on, user := systemd.Lingering()
	if on {
		c.OK = true
		c.Detail = "lingering is on for " + user + ": your user manager, and the sandboxes in it, keep running after you log out"
		return c
	}
	c.Detail = "lingering is off for " + user + ": your user manager stops when your last login session ends, and every sandbox with it"
	c.Fix = systemd.LingerFix(user)
	return c
}

// scopesUsable: sandboxes started now by this user would get a systemd scope.
func scopesUsable() bool {
	if !systemd.Booted() || !cgroups.UnifiedV2() {
		return false
	}
	return os.Geteuid() == 0 || systemd.UserManager() == nil
}
