// Package egress is a sandbox's only way out: a default-deny proxy that serves HTTP CONNECT,
// plain-HTTP proxying and SOCKS5 (CONNECT only) on one listener, judges every connection against
// the sandbox's policy, writes each decision to the sandbox's JSONL audit log, and puts stored
// API keys into the requests of services that have one, so that the real key never enters the
// sandbox.
//
// # Contract for backends
//
// A backend gives the sandbox no network interface but loopback. It creates a TCP listener on
// 127.0.0.1:ProxyPort inside the sandbox's network namespace (runtime.Egress) and calls
// ServeSandbox with it from the host side, for the sandbox's lifetime: connections accepted there
// come from inside the sandbox, and the proxy dials out from the host's namespace. If the
// listener or ServeSandbox cannot start, the sandbox must not start (never fail open); if the
// proxy dies, the sandbox has no network. The sandbox's processes get Env (proxy variables and
// the tools' own settings) and trust the CA bundle WriteCABundle writes (mounted at CABundlePath).
//
// # Policy
//
// Rules are an exact host, *.domain, an address or CIDR range, each with an optional :port. A
// sandbox's policy is its preset's rules (locked: none; balanced: the agents' APIs, package
// registries and git hosts; open: "*"), then the global file (GlobalPolicyPath) and the
// sandbox's own (SandboxPolicyPath), both re-read when they change, so edits apply to running
// sandboxes at once. A deny rule wins; otherwise an allow rule must match, else the connection
// is refused. A name is looked up only when an allow rule names it at that port (never just
// because a range rule exists: the query would carry the name out), and each lookup is logged.
// Names from a sandbox are canonicalised (CleanHost: IDNA, no control characters) before
// anything judges, logs or prints them. The proxy resolves names itself and checks every address: loopback, private,
// link-local, carrier-grade NAT, cloud metadata and the host's own addresses are refused unless
// an allow rule names their range (so DNS rebinding cannot reach the host's services, and
// "open" means the public Internet).
//
// # Testing and offline use
//
// PADDOCK_EGRESS_HOSTS (HostsEnv) names a hosts file the proxy's resolver honours before DNS;
// PADDOCK_EGRESS_CA_FILE adds PEM roots the proxy trusts for the upstream side of intercepted
// connections. Both are knobs for tests (loopback stand-ins for api.anthropic.com and the like)
// and offline mirrors, read from the environment of the process that serves the proxy.
//
// # Files
//
// Under PADDOCK_HOME: egress/policy.json (global rules), egress/ca/ (the CA, 0700). Under the
// sandbox's state folder: egress/policy.json (its rules), egress/audit.jsonl (its audit log).
package egress

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultPort is the proxy's port on the sandbox's loopback.
const DefaultPort = 3128

// CABundlePath is where a sandbox sees its CA bundle.
const CABundlePath = "/run/paddock/ca-bundle.pem"

// ConnectHelperPath is where a sandbox sees paddock's binary, used as ssh's ProxyCommand
// (`paddock __egress-connect HOST PORT`) for git over ssh.
const ConnectHelperPath = "/run/paddock/paddock"

// CAFileEnv names extra PEM roots the proxy trusts upstream (testing, private mirrors).
const CAFileEnv = "PADDOCK_EGRESS_CA_FILE"

// Options describe the sandbox a proxy serves.
type Options struct {
	Home      string // PADDOCK_HOME: global policy, CA, secrets
	StateDir  string // the sandbox's state folder: its policy and audit log
	SandboxID string
	Sandbox   string // the sandbox's name, for messages and audit records
	Preset    string // locked, balanced or open
	// HostsFile overrides the resolver (default: $PADDOCK_EGRESS_HOSTS).
	HostsFile string
	// Secret returns a stored key by name (default: PADDOCK_HOME/secrets/NAME), read at each
	// intercepted connection so `paddock secret set` applies at once.
	Secret func(name string) (string, bool)
	// UpstreamRoots verifies the upstream side of intercepted connections (default: the system's
	// roots plus $PADDOCK_EGRESS_CA_FILE).
	UpstreamRoots *x509.CertPool
	Logger        *slog.Logger
	// Upstream is a proxy every allowed connection goes through (http://[user:pass@]host:port,
	// CONNECT to the allowed address); "" dials directly.
	Upstream string
}

// ServeSandbox serves the proxy on ln until ctx ends or ln fails. It returns an error at once
// when the proxy cannot start (damaged CA, audit log not writable, unknown preset).
func ServeSandbox(ctx context.Context, ln net.Listener, o Options) error {
	p, err := New(o)
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Serve(ctx, ln)
}

// Env is the environment that points a sandbox's tools at the proxy on port and at the CA
// bundle: the proxy variables (upper and lower case), npm's, pip's and git's own settings, and
// git over ssh through the SOCKS5 side.
func Env(port int) []string {
	hp := "http://127.0.0.1:" + strconv.Itoa(port)
	socks := "socks5h://127.0.0.1:" + strconv.Itoa(port)
	noProxy := "localhost,127.0.0.1,::1"
	env := []string{
		"HTTP_PROXY=" + hp, "HTTPS_PROXY=" + hp, "ALL_PROXY=" + socks, "NO_PROXY=" + noProxy,
		"http_proxy=" + hp, "https_proxy=" + hp, "all_proxy=" + socks, "no_proxy=" + noProxy,
		"NPM_CONFIG_PROXY=" + hp, "NPM_CONFIG_HTTPS_PROXY=" + hp, "NPM_CONFIG_CAFILE=" + CABundlePath,
		"PIP_PROXY=" + hp, "PIP_CERT=" + CABundlePath,
		"SSL_CERT_FILE=" + CABundlePath, "NODE_EXTRA_CA_CERTS=" + CABundlePath, "REQUESTS_CA_BUNDLE=" + CABundlePath,
		"GIT_SSL_CAINFO=" + CABundlePath, "CURL_CA_BUNDLE=" + CABundlePath,
		"GIT_SSH_COMMAND=ssh -o ProxyCommand='" + ConnectHelperPath + " __egress-connect %h %p'",
		"PADDOCK_EGRESS_PROXY=127.0.0.1:" + strconv.Itoa(port),
	}
	return env
}

// Check tells whether the sandbox's policy allows a URL (or host[:port]), and by which rule,
// resolving the name as the proxy would.
func Check(ctx context.Context, o Options, target string) (host string, port int, d Decision, err error) {
	host, port, err = SplitTarget(target)
	if err != nil {
		return "", 0, Decision{}, err
	}
	pol, err := LoadPolicy(o.Home, o.StateDir, o.Preset)
	if err != nil {
		return host, port, Decision{}, err
	}
	if o.HostsFile == "" {
		o.HostsFile = os.Getenv(HostsEnv)
	}
	p := &Proxy{o: o, res: newResolver(o.HostsFile)}
	d = p.decide(ctx, pol, host, port)
	return host, port, d, nil
}

// SplitTarget reads a URL (http, https, ssh, git, socks) or host[:port] into host and port.
func SplitTarget(t string) (string, int, error) {
	orig := t
	defPort := 443
	if scheme, rest, ok := strings.Cut(t, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http":
			defPort = 80
		case "https":
		case "ssh":
			defPort = 22
		case "git":
			defPort = 9418
		default:
			return "", 0, fmt.Errorf("%w: %q: unknown scheme %s (give an http, https, ssh or git URL, or host:port)", ErrBadRule, orig, scheme)
		}
		t = rest
	}
	if i := strings.IndexAny(t, "/?#"); i >= 0 {
		t = t[:i]
	}
	if i := strings.LastIndex(t, "@"); i >= 0 {
		t = t[i+1:]
	}
	h, ps, err := net.SplitHostPort(t)
	port := defPort
	if err != nil {
		h = strings.Trim(t, "[]")
	} else {
		n, perr := parsePort(ps)
		if perr != nil {
			return "", 0, fmt.Errorf("%w: %q: %v", ErrBadRule, orig, perr)
		}
		port = n
	}
	if h == "" {
		return "", 0, fmt.Errorf("%w: %q: no host", ErrBadRule, orig)
	}
	ch, err := CleanHost(h)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s: not a host name or address", ErrBadRule, Printable(orig))
	}
	return ch, port, nil
}

func defaultSecret(home string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(home, "secrets", name))
		if err != nil {
			return "", false
		}
		v := strings.TrimSpace(string(b))
		return v, v != ""
	}
}

func upstreamRoots() (*x509.CertPool, error) {
	f := os.Getenv(CAFileEnv)
	if f == "" {
		// nil: crypto/tls loads the system's roots at the first intercepted connection. Parsing
		// them takes 10-15 ms, which every sandbox start would otherwise wait for.
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CAFileEnv, err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate in %s", CAFileEnv, f)
	}
	return pool, nil
}

var errDenied = errors.New("denied by the egress policy")
