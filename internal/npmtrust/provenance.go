package npmtrust

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"

	"github.com/paddockhq/paddock/internal/handover"
)

// ProvenanceTypes are the SLSA provenance predicate types npm publishes (v0.2 before npm 9.7,
// v1 after).
var ProvenanceTypes = map[string]bool{"https://slsa.dev/provenance/v0.2": true, "https://slsa.dev/provenance/v1": true}

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
		if !ProvenanceTypes[a.PredicateType] {
			continue
		}
		return c.verifyBundle(a.Bundle, p)
	}
	return "", fmt.Errorf("%w: %s@%s announces a provenance attestation the registry does not serve", ErrMismatch, p.Name, p.Version)
}

// HelperCommand is the hidden command of paddock-oci that verifies one provenance bundle
// (provenance.HelperMain).
const HelperCommand = "__verify-provenance"

// MaxBundle bounds a provenance bundle.
const MaxBundle = 8 << 20

// VerifyBundle, when set (tests), verifies a provenance bundle in this process; otherwise
// paddock-oci's HelperCommand does (HelperPath), so that only paddock-oci links Sigstore.
var VerifyBundle func(raw []byte, p Package) (string, error)

// HelperPath finds paddock-oci.
var HelperPath = handover.OCIPath

func (c *Client) verifyBundle(raw []byte, p Package) (string, error) {
	if VerifyBundle != nil {
		return VerifyBundle(raw, p)
	}
	if HelperPath == nil {
		return "", fmt.Errorf("%s@%s offers a provenance attestation and this paddock cannot verify one", p.Name, p.Version)
	}
	helper, err := HelperPath()
	if err != nil {
		return "", fmt.Errorf("verifying %s@%s's provenance: %w", p.Name, p.Version, err)
	}
	cmd := exec.Command(helper, HelperCommand, p.Name, p.Version, p.Integrity)
	cmd.Stdin = bytes.NewReader(raw)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return strings.TrimSpace(out.String()), nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return "", fmt.Errorf("%w: %s", ErrMismatch, strings.TrimSpace(errb.String()))
	}
	return "", fmt.Errorf("verifying %s@%s's provenance (%s): %v: %s", p.Name, p.Version, helper, err, strings.TrimSpace(errb.String()))
}
