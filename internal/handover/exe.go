// Package exe finds paddock's two executables and hands a command from one to the other.
//
// paddock is the sandbox engine and every everyday command; paddock-oci is the same command line
// plus what talks to registries, image archives and the Docker engine (go-containerregistry,
// compression, the Docker client). Go runs every linked package's initialisation in every
// process, and those libraries cost about a millisecond each time: keeping them out of paddock
// keeps `paddock exec`, `paddock run` and the sandbox's own supervisor and init fast. When
// paddock meets work that needs them (pulling or importing a template, a sandbox on the Docker
// backend) it replaces itself with paddock-oci running the same command line, so the user sees
// one tool. Both are built by `go build -o DIR/ ./cmd/...` and must sit in the same folder.
package handover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Names of the two executables.
const (
	Engine = "paddock"
	OCI    = "paddock-oci"
)

// ErrMissing says the other executable is not where it must be.
var ErrMissing = errors.New("paddock's executables are incomplete")

// self is the running executable, symlinks resolved.
func self() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return p, nil
}

// sibling returns the executable name in the running one's folder.
func sibling(name string) (string, error) {
	me, err := self()
	if err != nil {
		return "", err
	}
	if filepath.Base(me) == name {
		return me, nil
	}
	p := filepath.Join(filepath.Dir(me), name)
	if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not next to %s: build both with `go build -o DIR/ ./cmd/...`", ErrMissing, name, me)
	}
	return p, nil
}

// EnginePath is the executable that runs sandboxes' supervisors and inits: the paddock binary
// next to this one, or this one when it stands alone (paddock-oci is a complete paddock too).
func EnginePath() (string, error) {
	if p, err := sibling(Engine); err == nil {
		return p, nil
	}
	return self()
}

// OCIPath is paddock-oci, next to this executable (or this one, when it is paddock-oci).
func OCIPath() (string, error) { return sibling(OCI) }

// HandedOverEnv is set in the environment of a command handed over to paddock-oci: what the
// first process already printed (notes before the hand-over) is not printed again.
const HandedOverEnv = "PADDOCK_HANDED_OVER"

// HandOver replaces this process with paddock-oci running the same command line, because what
// the command needs (why, for the error) is only in that binary. It returns only on failure.
func HandOver(why string) error {
	p, err := sibling(OCI)
	if err != nil {
		return fmt.Errorf("%s needs %s: %w", why, OCI, err)
	}
	me, _ := self()
	if p == me {
		return fmt.Errorf("%s: this paddock-oci lacks it", why)
	}
	err = syscall.Exec(p, append([]string{p}, os.Args[1:]...), append(os.Environ(), HandedOverEnv+"=1"))
	return fmt.Errorf("%s: starting %s: %w", why, p, err)
}
