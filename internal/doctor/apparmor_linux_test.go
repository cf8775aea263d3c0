package doctor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppArmorProfileText(t *testing.T) {
	p := AppArmorProfile("/opt/my tools/bin")
	for _, want := range []string{"abi <abi/4.0>,", `profile paddock "/opt/my tools/bin/paddock{,-oci}" flags=(unconfined) {`, "  userns,", "include if exists <local/paddock>"} {
		if !strings.Contains(p, want) {
			t.Errorf("the profile lacks %q:\n%s", want, p)
		}
	}
}

// TestAppArmorProfileParses runs AppArmor 4's parser on the profile, without loading it, where
// PADDOCK_APPARMOR_ROOT names a root filesystem with it (a Debian trixie chroot: the VM lane's
// bookworm has AppArmor 3, which lacks the userns rule).
func TestAppArmorProfileParses(t *testing.T) {
	root := os.Getenv("PADDOCK_APPARMOR_ROOT")
	if root == "" {
		t.Skip("PADDOCK_APPARMOR_ROOT is not set (scripts/test-vm.sh sets it)")
	}
	if err := os.WriteFile(filepath.Join(root, "tmp", "paddock.profile"), []byte(AppArmorProfile("/usr/local/bin")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("chroot", root, "apparmor_parser", "--skip-kernel-load", "--skip-cache", "--preprocess",
		"/tmp/paddock.profile").CombinedOutput()
	if err != nil {
		t.Fatalf("apparmor_parser refuses the profile: %v\n%s", err, out)
	}
	out, err = exec.Command("chroot", root, "apparmor_parser", "--skip-kernel-load", "--skip-cache", "-Q", "--debug",
		"/tmp/paddock.profile").CombinedOutput()
	if err != nil {
		t.Fatalf("apparmor_parser refuses the profile: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "paddock") {
		t.Fatalf("apparmor_parser did not read the profile:\n%s", out)
	}
}
