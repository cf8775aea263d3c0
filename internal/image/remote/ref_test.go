package remote

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/paddockhq/paddock/internal/image"
)

// TestNormalizeAgreesWithRegistryClient checks that paddock's own reference parser (the
// paddock binary does not link the registry client) gives what go-containerregistry gives,
// for valid and invalid references alike.
func TestNormalizeAgreesWithRegistryClient(t *testing.T) {
	dig := "sha256:" + strings.Repeat("ab", 32)
	for _, ref := range []string{
		"debian", "debian:bookworm", "library/debian:12", "docker.io/debian", "docker.io/library/debian:x",
		"index.docker.io/debian", "user/img", "user/img:v1.2-rc_3", "docker/sandbox-templates:claude-code",
		"ghcr.io/org/img:tag", "ghcr.io/org/sub/img", "127.0.0.1:5000/a/b:1", "localhost:5000/x", "localhost/x",
		"registry.example.com:443/a", "quay.io/a/b@" + dig, "debian@" + dig, "debian:bookworm@" + dig,
		"a/b/c/d/e:1", "x_y/z-w.v:t", "a@sha512:" + strings.Repeat("0f", 64), "a@sha384:" + strings.Repeat("0f", 48),
		// invalid
		"Debian", "debian:", "debian:bad tag", "deb@sha256:123", "a", "debian:" + strings.Repeat("t", 129),
		"ghcr.io/", "/debian", "debian@", "debian@md5:" + strings.Repeat("0", 32), "re gistry.io/a", "a@b@c",
		"debian:-x", "debian:.x", "UPPER.io/a", "exa_mple.com/a", "host:port/a", "[::1]:5000/a",
	} {
		var want string
		r, werr := name.ParseReference(ref)
		if werr == nil {
			want = r.Name()
		}
		got, err := image.Normalize(ref)
		if (err == nil) != (werr == nil) || got != want {
			t.Errorf("Normalize(%q) = %q, %v; go-containerregistry says %q, %v", ref, got, err, want, werr)
		}
	}
}
