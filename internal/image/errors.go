package image

import (
	"errors"
	"fmt"
	"syscall"
)

// Error categories, checked with errors.Is. Every error returned by this package reads as one
// line that says what is wrong and, where there is one, what to do.
var (
	ErrNotFound    = errors.New("not found")               // not in the cache, the registry or the Docker engine
	ErrBadRef      = errors.New("invalid image reference") // the reference cannot be parsed
	ErrAuth        = errors.New("access denied")           // the registry refused the credentials (or needs some)
	ErrUnreachable = errors.New("registry unreachable")    // network, DNS or TLS failure
	ErrPlatform    = errors.New("wrong platform")          // no variant of the image for this host
	ErrBadLayer    = errors.New("bad layer")               // corrupt, truncated or hostile layer content
	ErrInUse       = errors.New("template in use")         // a sandbox uses it
	ErrBadSource   = errors.New("cannot import")           // an import source paddock cannot read
	ErrNoSpace     = errors.New("disk full")               // no space left under PADDOCK_HOME
)

// fsErr classifies a filesystem error: a full disk gets its own category and one clear line.
func fsErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: no space left under PADDOCK_HOME (free some, or `paddock template prune`)", ErrNoSpace)
	}
	return err
}

// FSErr is fsErr for the packages that fill the cache (internal/image/remote).
func FSErr(err error) error { return fsErr(err) }
