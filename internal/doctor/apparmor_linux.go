package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/fsutil"
	"github.com/paddockhq/paddock/internal/handover"
)

// ErrNoProfileNeeded: the host does not restrict user namespaces with AppArmor.
var ErrNoProfileNeeded = errors.New("this host does not restrict user namespaces with AppArmor (no kernel.apparmor_restrict_unprivileged_userns=1): paddock needs no profile")

// AppArmorProfilePath is where InstallAppArmorProfile writes paddock's profile.
const AppArmorProfilePath = "/etc/apparmor.d/paddock"

// AppArmorProfile is an AppArmor profile (AppArmor 4 syntax, as on Ubuntu 23.10 and later) that
// grants user namespaces to paddock's two executables in dir and confines nothing else, as
// Ubuntu's own profiles do for programs that need them.
func AppArmorProfile(dir string) string {
	attach := filepath.Join(dir, handover.Engine) + "{,-oci}"
	return fmt.Sprintf(`# paddock: its sandboxes need unprivileged user namespaces, which this host restricts
# (kernel.apparmor_restrict_unprivileged_userns=1). This profile grants them to paddock's own
# executables only, and confines nothing else. Written by `+"`paddock doctor --install-apparmor-profile`"+`.
abi <abi/4.0>,

include <tunables/global>

profile paddock %q flags=(unconfined) {
  userns,

  # Site-specific additions and overrides. See local/README for details.
  include if exists <local/paddock>
}
`, attach)
}

// engineDir is the folder of the running paddock executables.
func engineDir() (string, error) {
	p, err := handover.EnginePath()
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// AppArmorFix is the fix doctor names for the restriction.
func AppArmorFix() string {
	return "allow user namespaces for paddock alone, once: `sudo paddock doctor --install-apparmor-profile` " +
		"(writes " + AppArmorProfilePath + " and loads it); keep the whole host restricted rather than setting " +
		"kernel.apparmor_restrict_unprivileged_userns=0"
}

// AppArmorProfileInstalled reports whether the profile for the running executables is in place.
func AppArmorProfileInstalled() (bool, error) {
	dir, err := engineDir()
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile(AppArmorProfilePath)
	if err != nil {
		return false, nil
	}
	return string(b) == AppArmorProfile(dir), nil
}

// InstallAppArmorProfile writes paddock's profile for the running executables and loads it with
// apparmor_parser. It needs root; on a profile the parser refuses, nothing is left installed.
func InstallAppArmorProfile(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("installing an AppArmor profile needs root: run `sudo paddock doctor --install-apparmor-profile`")
	}
	if v, ok := readSysctl("kernel.apparmor_restrict_unprivileged_userns"); !ok || v != "1" {
		return ErrNoProfileNeeded
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		return errors.New("apparmor_parser is missing: install the apparmor package first")
	}
	dir, err := engineDir()
	if err != nil {
		return err
	}
	old, errOld := os.ReadFile(AppArmorProfilePath)
	if err := fsutil.ReplaceFileSync(AppArmorProfilePath, []byte(AppArmorProfile(dir)), 0o644); err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, parser, "--replace", AppArmorProfilePath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if errOld == nil {
			fsutil.ReplaceFileSync(AppArmorProfilePath, old, 0o644)
		} else {
			os.Remove(AppArmorProfilePath)
		}
		return fmt.Errorf("apparmor_parser refused the profile (%v): %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}
