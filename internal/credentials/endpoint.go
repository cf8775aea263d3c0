package credentials

import (
	"errors"
	"fmt"
	"github.com/paddockhq/paddock/internal/fsutil"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrBadEndpoint: an --endpoint URL paddock cannot use.
var ErrBadEndpoint = errors.New("bad endpoint")

// An endpoint is where a service's requests go instead of its default API hosts (a company
// gateway, a local model server, a test stand-in): paddock points the agent at it, allows it in
// the sandbox's policy, and the egress proxy puts the key into the requests sent there. It is kept
// beside the key, in PADDOCK_HOME/secrets/NAME.endpoint.

func (s *Store) endpointPath(name string) string { return filepath.Join(s.Dir, name+".endpoint") }

// CheckEndpoint validates an endpoint URL and returns it in normal form (no trailing slash).
// HTTPS anywhere; plain HTTP only on loopback, where the key never crosses a network.
func CheckEndpoint(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%w %q: give an absolute URL such as https://llm-gateway.example.com/anthropic or http://127.0.0.1:8080", ErrBadEndpoint, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w %q: no user name, password, query or fragment (the key is added by paddock)", ErrBadEndpoint, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return "", fmt.Errorf("%w %q: plain http:// only on this machine's loopback (127.0.0.1, ::1, localhost); use https:// for %s so the key is not sent in clear", ErrBadEndpoint, raw, u.Hostname())
		}
	default:
		return "", fmt.Errorf("%w %q: use an https:// URL (or http:// on loopback)", ErrBadEndpoint, raw)
	}
	if p := u.Port(); p != "" {
		if n, err := net.LookupPort("tcp", p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w %q: bad port %q", ErrBadEndpoint, raw, p)
		}
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// IsLoopbackHost reports whether host (a name or address, without port) is this machine's loopback.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SetEndpoint keeps the endpoint of a secret ("" goes back to the service's default hosts).
func (s *Store) SetEndpoint(name, endpoint string) error {
	if err := Check(name); err != nil {
		return err
	}
	if endpoint == "" {
		err := os.Remove(s.endpointPath(name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	ep, err := CheckEndpoint(endpoint)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	return fsutil.ReplaceFile(s.endpointPath(name), []byte(ep+"\n"), 0o600)
}

// Endpoint returns the endpoint of a secret, "" for the service's default hosts.
func (s *Store) Endpoint(name string) (string, error) {
	if err := Check(name); err != nil {
		return "", err
	}
	b, err := os.ReadFile(s.endpointPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return CheckEndpoint(strings.TrimSpace(string(b)))
}
