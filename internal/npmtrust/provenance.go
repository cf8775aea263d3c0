package npmtrust

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// trustedRootJSON is the Sigstore public-good instance's trusted root (Fulcio's CAs, Rekor's and
// the CT logs' keys), from sigstore-go v1.3.0's examples. Sigstore's TUF repository is not asked
// at install time: it may be unreachable, and a pinned root does not change under an install.
//
//go:embed trusted_root.json
var trustedRootJSON []byte

var trustedRoot = sync.OnceValues(func() (*root.TrustedRoot, error) {
	return root.NewTrustedRootFromJSON(trustedRootJSON)
})

// SLSA provenance predicate types npm publishes (v0.2 before npm 9.7, v1 after).
var provenanceTypes = map[string]bool{"https://slsa.dev/provenance/v0.2": true, "https://slsa.dev/provenance/v1": true}

// provenance fetches a version's attestations and verifies its SLSA provenance bundle: it must
// chain to Sigstore's trusted root with a transparency-log entry, and its statement must name
// this package version and the installed tarball's sha512. It returns the source the
// certificate names (github.com/OWNER/REPO@REF).
func (c *Client) provenance(ctx context.Context, rawURL string, p Package) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("%w: %s@%s: bad attestations URL", ErrMismatch, p.Name, p.Version)
	}
	// The attestations are asked of the registry the install uses, whatever host the URL names.
	ru, err := url.Parse(c.Registry)
	if err == nil && u.Host != ru.Host {
		rawURL = c.base() + "/-/npm/v1/attestations/" + strings.TrimPrefix(u.EscapedPath()[strings.Index(u.EscapedPath(), "/attestations/")+len("/attestations/"):], "/")
	}
	var r struct {
		Attestations []struct {
			PredicateType string          `json:"predicateType"`
			Bundle        json.RawMessage `json:"bundle"`
		} `json:"attestations"`
	}
	found, err := c.get(ctx, rawURL, &r)
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("%w: %s@%s announces attestations the registry does not serve", ErrMismatch, p.Name, p.Version)
	}
	for _, a := range r.Attestations {
		if !provenanceTypes[a.PredicateType] {
			continue
		}
		return VerifyProvenance(a.Bundle, p)
	}
	return "", fmt.Errorf("%w: %s@%s announces a provenance attestation the registry does not serve", ErrMismatch, p.Name, p.Version)
}

// VerifyProvenance verifies one Sigstore bundle holding an SLSA provenance statement for p.
func VerifyProvenance(raw []byte, p Package) (string, error) {
	fail := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("%w: %s@%s: provenance attestation: %s", ErrMismatch, p.Name, p.Version, fmt.Sprintf(format, a...))
	}
	digest, ok := IntegritySHA512(p.Integrity)
	if !ok {
		return fail("the installed integrity %s has no sha512", short(p.Integrity))
	}
	tr, err := trustedRoot()
	if err != nil {
		return fail("embedded trusted root: %v", err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return fail("%v", err)
	}
	v, err := verify.NewVerifier(tr, verify.WithSignedCertificateTimestamps(1), verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return fail("%v", err)
	}
	res, err := v.Verify(&b, verify.NewPolicy(verify.WithArtifactDigest("sha512", digest), verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return fail("%v", err)
	}
	if res.Statement == nil || !provenanceTypes[res.Statement.PredicateType] {
		return fail("not an SLSA provenance statement")
	}
	named := false
	for _, s := range res.Statement.Subject {
		if (s.Name == PURL(p.Name, p.Version) || s.Name == "pkg:npm/"+p.Name+"@"+p.Version) && s.Digest["sha512"] == digestHex(digest) {
			named = true
		}
	}
	if !named {
		return fail("its subject is not %s with the installed tarball", PURL(p.Name, p.Version))
	}
	if res.Signature == nil || res.Signature.Certificate == nil || res.Signature.Certificate.SourceRepositoryURI == "" {
		return fail("its certificate names no source repository")
	}
	cert := res.Signature.Certificate
	src := strings.TrimPrefix(strings.TrimPrefix(cert.SourceRepositoryURI, "https://"), "http://")
	if ref := cert.SourceRepositoryRef; ref != "" {
		src += "@" + ref
	}
	return src, nil
}
