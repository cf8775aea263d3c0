// Package testroot decides what a test that needs root does without it. In CI (CI is set) it
// fails: CI runs as root, and a privileged test never skips there. Elsewhere, as an ordinary
// user running `go test ./...`, it skips, saying how to run it.
package testroot

import (
	"os"
	"testing"
)

// Require stops t unless the process is root; why says what needs root.
func Require(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("this test needs root (%s): CI must run the suite as root", why)
	}
	t.Skipf("needs root (%s): run every test with `sudo bash scripts/test.sh`", why)
}
