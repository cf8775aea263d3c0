package egress

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Service is an API whose key paddock keeps outside the sandbox: requests to its hosts are
// intercepted (TLS, with paddock's CA) and the placeholder the sandbox holds is replaced by the
// stored key.
type Service struct {
	Secret string   // the stored secret's name (internal/credentials)
	Hosts  []string // exact host names; HTTPS on port 443 only
	// Header is where the service reads its key: "x-api-key", "authorization" (Bearer, or
	// Basic credentials as git sends them) or "x-goog-api-key". The placeholder is replaced
	// there, in Also (other headers the service reads it from, Bearer-style) and in the query
	// parameter Query, and nowhere else.
	Header string
	Also   []string
	Query  string
	// Plain: the service is a plain-HTTP endpoint on loopback (see Endpoint), served without TLS
	// inside a CONNECT tunnel.
	Plain bool
	// API is the error format of an agent's model API ("anthropic", "openai", "google"): a
	// request the proxy will not or cannot pass on (refused, no key stored, upstream unreachable)
	// is answered in that format, so that the agent shows paddock's reason at once (see
	// apiAnswer). Such a service is intercepted with no key stored too. "" for other services.
	API string
}

// Services is the one table of services with stored keys. Custom endpoints (a secret with its
// own host) are added here.
var Services = []Service{
	// Claude Code sends an apiKeyHelper's key as both x-api-key and Authorization: Bearer.
	{Secret: "anthropic", Hosts: []string{"api.anthropic.com"}, Header: "x-api-key", Also: []string{"authorization"}, API: "anthropic"},
	{Secret: "openai", Hosts: []string{"api.openai.com"}, Header: "authorization", API: "openai"},
	{Secret: "google", Hosts: []string{"generativelanguage.googleapis.com"}, Header: "x-goog-api-key", Query: "key", API: "google"},
	{Secret: "github", Hosts: []string{"github.com", "api.github.com"}, Header: "authorization"},
}

// ServiceFor returns the service whose hosts include host, if any.
func ServiceFor(host string) (Service, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, s := range Services {
		if slices.Contains(s.Hosts, host) {
			return s, true
		}
	}
	return Service{}, false
}

// PlaceholderPrefix starts every placeholder.
const PlaceholderPrefix = "paddock-placeholder-"

// Placeholder is the value a sandbox gets instead of a stored secret's real key.
func Placeholder(secret string) string { return PlaceholderPrefix + secret }

// inject replaces the placeholder of a service's secret with its key in the one header where
// the service reads it (svc.Header; for "authorization", inside Bearer or Basic credentials),
// and nowhere else: a placeholder in any other header, the URL or the body goes as it is, so
// that no echo of those can bring the key back. It reports whether it replaced any.
func inject(r *http.Request, svc Service, key string) bool {
	ph := Placeholder(svc.Secret)
	name := svc.Header
	if name == "" {
		name = "authorization"
	}
	done := false
	for _, also := range svc.Also {
		for i, v := range r.Header.Values(also) {
			if strings.Contains(v, ph) {
				r.Header.Values(also)[i] = strings.ReplaceAll(v, ph, key)
				done = true
			}
		}
	}
	if svc.Query != "" && strings.Contains(r.URL.RawQuery, ph) {
		q := r.URL.Query()
		if vs := q[svc.Query]; len(vs) > 0 {
			for i, v := range vs {
				vs[i] = strings.ReplaceAll(v, ph, key)
			}
			r.URL.RawQuery = q.Encode()
			done = true
		}
	}
	vals := r.Header.Values(name)
	for i, v := range vals {
		if strings.Contains(v, ph) {
			vals[i] = strings.ReplaceAll(v, ph, key)
			done = true
			continue
		}
		if b64, ok := cutPrefixFold(v, "Basic "); ok && strings.EqualFold(name, "Authorization") {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
			if err == nil && strings.Contains(string(raw), ph) {
				vals[i] = "Basic " + base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), ph, key)))
				done = true
			}
		}
	}
	return done
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// secretForms are the forms in which a key sent in r's auth header could come back: the key,
// URL-escaped, in base64, and the Basic credentials the proxy made with it.
func secretForms(r *http.Request, svc Service, key string) []string {
	forms := []string{key, url.QueryEscape(key), url.PathEscape(key), base64.StdEncoding.EncodeToString([]byte(key)),
		base64.RawURLEncoding.EncodeToString([]byte(key))}
	name := svc.Header
	if name == "" {
		name = "authorization"
	}
	for _, v := range r.Header.Values(name) {
		if b64, ok := cutPrefixFold(v, "Basic "); ok {
			if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64)); err == nil && strings.Contains(string(raw), key) {
				forms = append(forms, strings.TrimSpace(b64))
			}
		}
	}
	out := forms[:0]
	for _, f := range forms {
		if len(f) >= 8 && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
