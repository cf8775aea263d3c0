// Package provenance verifies npm provenance attestations: Sigstore bundles holding an SLSA
// provenance statement, against the Sigstore public-good trusted root embedded here. It links
// sigstore-go, whose package initialisation is too heavy for every paddock process: it lives in
// paddock-oci, and paddock asks it through HelperCommand (registered in cmd/paddock-oci).
package provenance

import (
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/paddockhq/paddock/internal/npmtrust"
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

// VerifyProvenance verifies one Sigstore bundle holding an SLSA provenance statement for p.
func Verify(raw []byte, p npmtrust.Package) (string, error) {
	fail := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("%w: %s@%s: provenance attestation: %s", npmtrust.ErrMismatch, p.Name, p.Version, fmt.Sprintf(format, a...))
	}
	digest, ok := npmtrust.IntegritySHA512(p.Integrity)
	if !ok {
		return fail("the installed integrity %s has no sha512", p.Integrity)
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
	if res.Statement == nil || !npmtrust.ProvenanceTypes[res.Statement.PredicateType] {
		return fail("not an SLSA provenance statement")
	}
	named := false
	for _, s := range res.Statement.Subject {
		if (s.Name == npmtrust.PURL(p.Name, p.Version) || s.Name == "pkg:npm/"+p.Name+"@"+p.Version) && s.Digest["sha512"] == hex.EncodeToString(digest) {
			named = true
		}
	}
	if !named {
		return fail("its subject is not %s with the installed tarball", npmtrust.PURL(p.Name, p.Version))
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

// HelperMain is `paddock-oci __verify-provenance NAME VERSION INTEGRITY` with the bundle on
// stdin: the source on stdout and exit 0, or the reason on stderr and exit 1 (refused) or 2.
func HelperMain(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: __verify-provenance NAME VERSION INTEGRITY < BUNDLE")
		return 2
	}
	raw, err := io.ReadAll(io.LimitReader(os.Stdin, npmtrust.MaxBundle))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	src, err := Verify(raw, npmtrust.Package{Name: args[0], Version: args[1], Integrity: args[2]})
	if err != nil {
		fmt.Fprintln(os.Stderr, strings.TrimPrefix(err.Error(), npmtrust.ErrMismatch.Error()+": "))
		return 1
	}
	fmt.Println(src)
	return 0
}
