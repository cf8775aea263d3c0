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
	// Header is where the service expects its key: "x-api-key", "authorization" (Bearer) or
	// "x-goog-api-key". The placeholder is replaced wherever the client put it (any header,
	// Basic credentials, the query string); Header documents the usual place.
	Header string
	// Plain: the service is a plain-HTTP endpoint on loopback (see Endpoint), served without TLS
	// inside a CONNECT tunnel.
	Plain bool
}

// Services is the one table of services with stored keys. Custom endpoints (a secret with its
// own host) are added here.
var Services = []Service{
	{Secret: "anthropic", Hosts: []string{"api.anthropic.com"}, Header: "x-api-key"},
	{Secret: "openai", Hosts: []string{"api.openai.com"}, Header: "authorization"},
	{Secret: "google", Hosts: []string{"generativelanguage.googleapis.com"}, Header: "x-goog-api-key"},
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

// inject replaces the placeholder of a secret with its key in a request: in header values
// (Basic credentials decoded), and in the query string. It reports whether it replaced any.
func inject(r *http.Request, secret, key string) bool {
	ph := Placeholder(secret)
	done := false
	for name, vals := range r.Header {
		for i, v := range vals {
			if strings.Contains(v, ph) {
				vals[i] = strings.ReplaceAll(v, ph, key)
				done = true
				continue
			}
			if b64, ok := strings.CutPrefix(v, "Basic "); ok && strings.EqualFold(name, "Authorization") {
				raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
				if err == nil && strings.Contains(string(raw), ph) {
					vals[i] = "Basic " + base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), ph, key)))
					done = true
				}
			}
		}
	}
	if strings.Contains(r.URL.RawQuery, ph) {
		r.URL.RawQuery = strings.ReplaceAll(r.URL.RawQuery, ph, url.QueryEscape(key))
		done = true
	}
	return done
}
