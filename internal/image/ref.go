package image

import (
	"fmt"
	"net/url"
	"strings"
)

// defaultRegistry is where Docker Hub short names point.
const defaultRegistry = "index.docker.io"

// Normalize turns a reference as a user types it into its full form, resolving Docker Hub short
// names as docker does: "debian:bookworm" is "index.docker.io/library/debian:bookworm", "user/img"
// is "index.docker.io/user/img:latest". A digest reference keeps its digest (and drops a tag).
//
// The rules are go-containerregistry's (pkg/name, which pulls use): paddock parses references
// itself only so that commands that never reach a registry need not link it. A test in
// internal/image/remote checks both agree.
func Normalize(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", fmt.Errorf("%w: empty", ErrBadRef)
	}
	full, err := normalize(ref)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrBadRef, ref, err)
	}
	return full, nil
}

func normalize(ref string) (string, error) {
	if base, dig, ok := strings.Cut(ref, "@"); ok {
		if strings.Contains(dig, "@") {
			return "", fmt.Errorf("a digest reference has one @")
		}
		if err := checkDigest(dig); err != nil {
			return "", err
		}
		if repo, _, err := splitTag(base); err == nil {
			base = repo
		}
		repo, err := repository(base)
		if err != nil {
			return "", err
		}
		return repo + "@" + dig, nil
	}
	base, tag, err := splitTag(ref)
	if err != nil {
		return "", err
	}
	repo, err := repository(base)
	if err != nil {
		return "", err
	}
	return repo + ":" + tag, nil
}

// splitTag splits "repo:tag" (the tag defaults to latest) and checks the tag.
func splitTag(ref string) (repo, tag string, err error) {
	repo, tag = ref, "latest"
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i+1:], "/") {
		repo, tag = ref[:i], ref[i+1:]
		if tag == "" {
			return "", "", fmt.Errorf("a tag must follow the colon")
		}
	}
	if err := checkChars("tag", tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", 1, 128); err != nil {
		return "", "", err
	}
	return repo, tag, nil
}

// repository is the full repository name of "[registry/]path".
func repository(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("a repository must have a name")
	}
	registry, path := "", name
	if first, rest, ok := strings.Cut(name, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		registry, path = first, rest
	}
	if err := checkChars("repository", path, "abcdefghijklmnopqrstuvwxyz0123456789_-./", 1, 255); err != nil {
		return "", err
	}
	if u, err := url.Parse("//" + registry); err != nil || u.Host != registry {
		return "", fmt.Errorf("registries must be valid RFC 3986 URI authorities: %s", registry)
	}
	if registry == "" || registry == "docker.io" {
		registry = defaultRegistry
	}
	if registry == defaultRegistry && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return registry + "/" + path, nil
}

func checkDigest(d string) error {
	algo, hex, _ := strings.Cut(d, ":")
	size := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[algo]
	if size == 0 || len(hex) != size || strings.Trim(hex, "0123456789abcdef") != "" {
		return fmt.Errorf("a digest is sha256: and 64 hexadecimal digits (or sha384, sha512): %s", d)
	}
	return nil
}

func checkChars(what, s, allowed string, minLen, maxLen int) error {
	if len(s) < minLen || len(s) > maxLen {
		return fmt.Errorf("%s must be between %d and %d characters in length: %s", what, minLen, maxLen, s)
	}
	if strings.Trim(s, allowed) != "" {
		return fmt.Errorf("%s can only contain the characters `%s`: %s", what, allowed, s)
	}
	return nil
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
