package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/paddockhq/paddock/internal/npmtrust"
)

// verifyTimeout bounds paddock's own check of an install with the registry.
const verifyTimeout = 2 * time.Minute

// installCheck is what paddock's check of an install with the registry found.
type installCheck struct {
	Summary    string
	Provenance string
	Packages   int
}

// lockPackages reads the packages npm installed in dir (package-lock.json): the agent's own
// package and every other one with an integrity hash (bundled and linked ones have none).
func lockPackages(dir, pkg string) (npmtrust.Package, []npmtrust.Package, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return npmtrust.Package{}, nil, fmt.Errorf("reading what npm installed: %w", err)
	}
	var lock struct {
		Packages map[string]struct {
			Name      string `json:"name"`
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
			Link      bool   `json:"link"`
			InBundle  bool   `json:"inBundle"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return npmtrust.Package{}, nil, fmt.Errorf("reading what npm installed: %w", err)
	}
	var top npmtrust.Package
	var deps []npmtrust.Package
	seen := map[string]bool{}
	for path, e := range lock.Packages {
		i := strings.LastIndex(path, "node_modules/")
		if i < 0 || e.Link || e.InBundle || e.Integrity == "" {
			continue
		}
		name := path[i+len("node_modules/"):]
		if e.Name != "" {
			name = e.Name // an alias
		}
		p := npmtrust.Package{Name: name, Version: e.Version, Integrity: e.Integrity}
		if path == "node_modules/"+pkg {
			top = p
			continue
		}
		if k := name + "@" + e.Version; !seen[k] {
			seen[k] = true
			deps = append(deps, p)
		}
	}
	if top.Name == "" {
		return top, nil, fmt.Errorf("npm's lockfile does not list %s with its integrity", pkg)
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	return top, deps, nil
}

// verifyInstall checks with the registry what npm installed in dir: each package's integrity
// is the registry's, its registry signature verifies where the registry signs, and the agent's
// own package's provenance attestation verifies where one is offered. An error wrapping
// npmtrust.ErrMismatch refuses the version.
func verifyInstall(ctx context.Context, s npmSettings, pkg, dir string) (installCheck, error) {
	top, deps, err := lockPackages(dir, pkg)
	if err != nil {
		return installCheck{Summary: "not checked"}, err
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	hc, err := s.httpClient()
	if err != nil {
		return installCheck{Summary: "not checked"}, err
	}
	c := &npmtrust.Client{Registry: s.Registry, HTTP: hc}
	res, dres, err := c.VerifyAll(ctx, top, deps)
	if err != nil {
		return installCheck{Summary: "not checked"}, err
	}
	return installCheck{Summary: npmtrust.Summary(res, dres), Provenance: res.Provenance, Packages: 1 + len(deps)}, nil
}

// registryTag asks the user's registry (the package's scope's, if they named one) which
// version a dist-tag of pkg names.
func registryTag(ctx context.Context, s npmSettings, pkg, tag string) (string, error) {
	hc, err := s.httpClient()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, tagTimeout)
	defer cancel()
	c := &npmtrust.Client{Registry: s.registryFor(pkg), HTTP: hc}
	v, found, err := c.DistTag(ctx, pkg, tag)
	if err == nil && !found {
		err = fmt.Errorf("the registry has no %s@%s", pkg, tag)
	}
	return v, err
}

// tagTimeout bounds the direct dist-tag request; npm is asked after it.
const tagTimeout = 5 * time.Second

// registryFor is the registry the user's npm fetches pkg from: its scope's (@scope:registry)
// when they named one, else their registry.
func (s npmSettings) registryFor(pkg string) string {
	if scope, _, ok := strings.Cut(pkg, "/"); ok && strings.HasPrefix(scope, "@") {
		for _, l := range s.Lines {
			if r, ok := strings.CutPrefix(l, scope+":registry="); ok && r != "" {
				return r
			}
		}
	}
	return s.Registry
}

// httpClient reaches the registry as the user's npm does: through their proxy, trusting their
// CA (only it, as npm does with cafile or ca) or the system's roots.
func (s npmSettings) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if s.Proxy != "" {
		u, err := url.Parse(s.Proxy)
		if err != nil {
			return nil, fmt.Errorf("your npm proxy %q: %w", s.Proxy, err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if len(s.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.CA) {
			return nil, errors.New("your npm CA holds no certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// ShortChecks is an install record's registry checks in a table cell: "signed by registry,
// provenance: github.com/OWNER/REPO@REF", "no registry signature offered, no provenance
// offered", or "not checked" (installs of older paddocks).
func ShortChecks(signatures string) string {
	if !strings.Contains(signatures, "provenance") {
		return "not checked"
	}
	parts := strings.Split(signatures, "; ")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	return strings.Join(parts, ", ")
}
