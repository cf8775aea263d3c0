// Package npmtrust checks what an npm registry says about a package version against what was
// installed: the registry's integrity hash, the registry's signature over it (ECDSA P-256 over
// "NAME@VERSION:INTEGRITY", the check `npm audit signatures` makes) and, where the version
// carries one, its Sigstore provenance attestation (SLSA provenance, verified against the
// Sigstore public-good trusted root embedded in the binary).
package npmtrust

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// ErrMismatch marks a version whose registry data does not match what was installed or whose
// signature or attestation does not verify: it must not be kept.
var ErrMismatch = errors.New("registry check failed")

// Key is one of a registry's signing keys, as /-/npm/v1/keys serves it.
type Key struct {
	KeyID   string `json:"keyid"`
	KeyType string `json:"keytype"`
	Scheme  string `json:"scheme"`
	Key     string `json:"key"` // base64 DER SubjectPublicKeyInfo
	Expires string `json:"expires,omitempty"`
}

// NPMJSHost is the public registry, whose keys are pinned in the binary.
const NPMJSHost = "registry.npmjs.org"

// NPMJSKeys are registry.npmjs.org's signing keys (its /-/npm/v1/keys; the first expired on
// 2025-01-29 and still verifies versions signed before).
var NPMJSKeys = []Key{
	{KeyID: "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", KeyType: "ecdsa-sha2-nistp256", Scheme: "ecdsa-sha2-nistp256",
		Key:     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==",
		Expires: "2025-01-29T00:00:00.000Z"},
	{KeyID: "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U", KeyType: "ecdsa-sha2-nistp256", Scheme: "ecdsa-sha2-nistp256",
		Key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+HOKYCcNGybJZSCJq/fd7Qa8uuAKtdIkUQtQiEKERhAmE5lMMJhP8OkDOa2g=="},
}

// Client asks one registry.
type Client struct {
	// Registry is the registry's base URL (https://registry.npmjs.org/).
	Registry string
	// HTTP carries the requests (the user's proxy and CA); default http.DefaultClient.
	HTTP *http.Client
}

// maxBody bounds what is read of one registry answer.
const maxBody = 8 << 20

func (c *Client) get(ctx context.Context, u string, v any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("GET %s: %w", u, err)
	}
	return true, nil
}

func (c *Client) base() string { return strings.TrimSuffix(c.Registry, "/") }

// Keys are the registry's signing keys: pinned for registry.npmjs.org, otherwise what the
// registry serves at /-/npm/v1/keys, as npm does (none when it serves none).
func (c *Client) Keys(ctx context.Context) ([]Key, error) {
	if u, err := url.Parse(c.Registry); err == nil && u.Hostname() == NPMJSHost {
		return NPMJSKeys, nil
	}
	var r struct {
		Keys []Key `json:"keys"`
	}
	found, err := c.get(ctx, c.base()+"/-/npm/v1/keys", &r)
	if err != nil {
		return nil, fmt.Errorf("reading the registry's signing keys: %w", err)
	}
	if !found {
		return nil, nil
	}
	return r.Keys, nil
}

// Package is one installed package version: what the lockfile records.
type Package struct {
	Name, Version, Integrity string
}

// Result is what the registry check found for one package version.
type Result struct {
	Package
	// Signed: the registry's signature over the version's integrity verified (with KeyID).
	Signed bool   `json:"signed"`
	KeyID  string `json:"keyid,omitempty"`
	// Provenance is the source the version was built from, per its verified SLSA provenance
	// attestation ("github.com/OWNER/REPO@REF"); empty when none is offered.
	Provenance string `json:"provenance,omitempty"`
	// Offered says which checks the registry offered for the version (signature, provenance).
	SignatureOffered  bool `json:"signature_offered"`
	ProvenanceOffered bool `json:"provenance_offered"`
}

type manifest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Dist    struct {
		Integrity  string `json:"integrity"`
		Signatures []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
		Attestations *struct {
			URL        string `json:"url"`
			Provenance struct {
				PredicateType string `json:"predicateType"`
			} `json:"provenance"`
		} `json:"attestations"`
	} `json:"dist"`
}

// DistTag is the version a dist-tag of a package names (GET REGISTRY/NAME/TAG: the registry
// answers with that version's manifest, a few KiB where the packument of a package with many
// versions is MiBs). found is false when the registry knows no such package or tag.
func (c *Client) DistTag(ctx context.Context, name, tag string) (version string, found bool, err error) {
	var m struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	found, err = c.get(ctx, c.base()+"/"+escapeName(name)+"/"+url.PathEscape(tag), &m)
	if err != nil || !found {
		return "", found, err
	}
	if m.Name != name || m.Version == "" {
		return "", false, fmt.Errorf("the registry answered %s@%s with %q@%q", name, tag, m.Name, m.Version)
	}
	return m.Version, true, nil
}

// escapeName is a package name as a registry path (@scope%2fname).
func escapeName(name string) string {
	return strings.Replace(url.PathEscape(name), "%40", "@", 1)
}

// Verify checks one installed package version: the registry's integrity hash for it must be
// the one installed, its signature (when the registry offers one, or when the registry has
// keys) must verify with keys, and with provenance its attestation, when offered, must verify
// and name this version and tarball. An error wrapping ErrMismatch refuses the version; other
// errors mean the check could not be made.
func (c *Client) Verify(ctx context.Context, keys []Key, p Package, provenance bool) (Result, error) {
	res := Result{Package: p}
	var m manifest
	found, err := c.get(ctx, c.base()+"/"+escapeName(p.Name)+"/"+url.PathEscape(p.Version), &m)
	if err != nil {
		return res, err
	}
	if !found {
		return res, fmt.Errorf("%w: the registry has no %s@%s", ErrMismatch, p.Name, p.Version)
	}
	if m.Dist.Integrity != p.Integrity {
		return res, fmt.Errorf("%w: %s@%s: the installed tarball's integrity %s is not the registry's %s", ErrMismatch,
			p.Name, p.Version, short(p.Integrity), short(m.Dist.Integrity))
	}
	res.SignatureOffered = len(m.Dist.Signatures) > 0
	if res.SignatureOffered {
		if len(keys) == 0 {
			return res, fmt.Errorf("%w: %s@%s is signed but the registry publishes no signing keys", ErrMismatch, p.Name, p.Version)
		}
		msg := []byte(p.Name + "@" + p.Version + ":" + p.Integrity)
		var why error
		for _, s := range m.Dist.Signatures {
			k, ok := findKey(keys, s.KeyID)
			if !ok {
				why = fmt.Errorf("signed with unknown key %s", s.KeyID)
				continue
			}
			if err := verifySig(k, msg, s.Sig); err != nil {
				why = err
				continue
			}
			res.Signed, res.KeyID = true, k.KeyID
			break
		}
		if !res.Signed {
			return res, fmt.Errorf("%w: %s@%s: the registry's signature does not verify: %v", ErrMismatch, p.Name, p.Version, why)
		}
	}
	if m.Dist.Attestations != nil && m.Dist.Attestations.URL != "" {
		res.ProvenanceOffered = true
		if provenance {
			src, err := c.provenance(ctx, m.Dist.Attestations.URL, p)
			if err != nil {
				return res, err
			}
			res.Provenance = src
		}
	}
	return res, nil
}

func findKey(keys []Key, id string) (Key, bool) {
	for _, k := range keys {
		if k.KeyID == id {
			return k, true
		}
	}
	return Key{}, false
}

func verifySig(k Key, msg []byte, sig64 string) error {
	der, err := base64.StdEncoding.DecodeString(k.Key)
	if err != nil {
		return fmt.Errorf("key %s: %w", k.KeyID, err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return fmt.Errorf("key %s: %w", k.KeyID, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("key %s is not an ECDSA key", k.KeyID)
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(ec, h[:], sig) {
		return errors.New("bad signature")
	}
	return nil
}

// IntegritySHA512 decodes an integrity string's sha512 digest.
func IntegritySHA512(integrity string) ([]byte, bool) {
	for _, part := range strings.Fields(integrity) {
		if b64, ok := strings.CutPrefix(part, "sha512-"); ok {
			if i := strings.IndexByte(b64, '?'); i >= 0 {
				b64 = b64[:i]
			}
			if d, err := base64.StdEncoding.DecodeString(b64); err == nil && len(d) == 64 {
				return d, true
			}
		}
	}
	return nil, false
}

// PURL is the package URL an npm provenance statement names (pkg:npm/%40scope/name@version).
func PURL(name, version string) string {
	return "pkg:npm/" + strings.Replace(name, "@", "%40", 1) + "@" + version
}

func short(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// Summary is one line for the checks of an install: the agent's own package first, then its
// dependencies.
func Summary(agent Result, deps []Result) string {
	var parts []string
	switch {
	case agent.Signed:
		parts = append(parts, "signed by registry")
	default:
		parts = append(parts, "no registry signature offered")
	}
	switch {
	case agent.Provenance != "":
		parts = append(parts, "provenance: "+agent.Provenance)
	default:
		parts = append(parts, "no provenance offered")
	}
	if len(deps) > 0 {
		signed := 0
		for _, d := range deps {
			if d.Signed {
				signed++
			}
		}
		parts = append(parts, fmt.Sprintf("dependencies: %d of %d signed", signed, len(deps)))
	}
	return strings.Join(parts, "; ")
}

// VerifyAll checks the agent's package (with provenance) and its dependencies (signatures and
// integrity), a few at a time. The first refusal (ErrMismatch) wins over errors that only kept
// a check from being made.
func (c *Client) VerifyAll(ctx context.Context, agent Package, deps []Package) (Result, []Result, error) {
	keys, err := c.Keys(ctx)
	if err != nil {
		return Result{Package: agent}, nil, err
	}
	top, err := c.Verify(ctx, keys, agent, true)
	if err != nil {
		return top, nil, err
	}
	out := make([]Result, len(deps))
	errs := make([]error, len(deps))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, d := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = c.Verify(ctx, keys, d, false)
		}()
	}
	wg.Wait()
	var other error
	for _, e := range errs {
		if errors.Is(e, ErrMismatch) {
			return top, out, e
		}
		if e != nil && other == nil {
			other = e
		}
	}
	return top, out, other
}

// digestHex is a digest as the in-toto statement spells it.
func digestHex(b []byte) string { return hex.EncodeToString(b) }
