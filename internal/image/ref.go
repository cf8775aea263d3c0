package image

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Normalize turns a reference as a user types it into its full form, resolving Docker Hub short
// names as docker does: "debian:bookworm" is "index.docker.io/library/debian:bookworm", "user/img"
// is "index.docker.io/user/img:latest". A digest reference keeps its digest.
func Normalize(ref string) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	return r.Name(), nil
}

func parseRef(ref string) (name.Reference, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadRef)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadRef, ref, err)
	}
	return r, nil
}

// Familiar is the short form docker shows: "debian:bookworm" for
// "index.docker.io/library/debian:bookworm"; other registries keep their host.
func Familiar(full string) string {
	for _, p := range []string{"index.docker.io/library/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(full, p); ok {
			return rest
		}
	}
	return full
}
