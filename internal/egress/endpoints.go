package egress

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Endpoint is where a service's requests go instead of its default hosts: `paddock secret set
// NAME --endpoint URL` keeps URL in PADDOCK_HOME/secrets/NAME.endpoint (internal/credentials
// checks it: https anywhere, plain http on loopback only). The proxy allows it in every sandbox
// whose preset is not locked, and puts the key into the requests sent there: intercepting TLS
// for an https endpoint, rewriting the plain request for an http one.
type Endpoint struct {
	Secret string
	Scheme string // "https" or "http"
	Host   string // lower case, no brackets
	Port   int
}

// EndpointsDir is where the endpoints are kept (the secrets folder).
func EndpointsDir(home string) string { return filepath.Join(home, "secrets") }

// LoadEndpoints reads the endpoints that are set. A file that does not hold a usable URL is
// skipped (its service then has its default hosts only).
func LoadEndpoints(home string) []Endpoint {
	var out []Endpoint
	for _, s := range Services {
		b, err := os.ReadFile(filepath.Join(EndpointsDir(home), s.Secret+".endpoint"))
		if err != nil {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(string(b)))
		if err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		port := 443
		if u.Scheme == "http" {
			port = 80
		}
		if p := u.Port(); p != "" {
			if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
				continue
			}
		}
		host := strings.ToLower(u.Hostname())
		if u.Scheme == "http" && !isLoopbackName(host) {
			continue // never a key in clear over a network
		}
		out = append(out, Endpoint{Secret: s.Secret, Scheme: u.Scheme, Host: host, Port: port})
	}
	return out
}

func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// endpointEntries are the allow rules of the endpoints, for every preset but locked: the
// endpoint's host and port, and for a loopback endpoint the loopback addresses at that port
// (special ranges are refused unless a rule names them).
func endpointEntries(home, preset string) []Entry {
	if preset == Locked {
		return nil
	}
	var out []Entry
	for _, ep := range LoadEndpoints(home) {
		src := "endpoint:" + ep.Secret
		if a, err := netip.ParseAddr(ep.Host); err == nil {
			out = append(out, Entry{Rule: Rule{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: ep.Port}, Source: src})
			continue
		}
		out = append(out, Entry{Rule: Rule{Host: ep.Host, Port: ep.Port}, Source: src})
		if ep.Host == "localhost" {
			for _, p := range []string{"127.0.0.1/32", "::1/128"} {
				out = append(out, Entry{Rule: Rule{Prefix: netip.MustParsePrefix(p), Port: ep.Port}, Source: src})
			}
		}
	}
	return out
}

// endpointFor returns the endpoint served at host:port with scheme, if one is set.
func (p *Proxy) endpointFor(scheme, host string, port int) (Endpoint, bool) {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	eps := LoadEndpoints(p.o.Home)
	i := slices.IndexFunc(eps, func(e Endpoint) bool {
		return e.Scheme == scheme && e.Port == port && (e.Host == host || sameLoopback(e.Host, host))
	})
	if i < 0 {
		return Endpoint{}, false
	}
	return eps[i], true
}

// sameLoopback: "localhost" and the loopback addresses name the same endpoint.
func sameLoopback(a, b string) bool {
	return isLoopbackName(a) && isLoopbackName(b) && (a == "localhost" || b == "localhost")
}

// serviceOf is the service of an endpoint: the secret's own entry with the endpoint's host.
func serviceOf(ep Endpoint) Service {
	svc := Service{Secret: ep.Secret}
	for _, s := range Services {
		if s.Secret == ep.Secret {
			svc = s
		}
	}
	svc.Hosts, svc.Plain = []string{ep.Host}, ep.Scheme == "http"
	return svc
}

// EndpointPathPrefix starts the paths that reach an endpoint through the proxy's own address:
// a sandbox's processes send their requests for a loopback endpoint to
// http://127.0.0.1:PROXYPORT/paddock-endpoint/NAME/..., an ordinary loopback address that every
// NO_PROXY leaves alone (the agent's own loopback services keep working), and the proxy passes
// them on to the endpoint with the key put in. A loopback endpoint cannot be reached at its own
// address inside a sandbox: that is the sandbox's loopback.
const EndpointPathPrefix = "/paddock-endpoint/"

// EndpointURL is the URL a sandbox's agent is given for the endpoint of secret: the proxy's
// address for a loopback endpoint, the endpoint itself otherwise.
func EndpointURL(proxyPort int, secret, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || proxyPort <= 0 || !isLoopbackName(strings.ToLower(u.Hostname())) {
		return endpoint
	}
	return "http://127.0.0.1:" + strconv.Itoa(proxyPort) + strings.TrimSuffix(EndpointPathPrefix, "/") + "/" + secret + u.EscapedPath()
}

// isEndpointConn reports whether a connection's first request asks for an endpoint by path
// (looking only at what has arrived; a request line split across reads goes the proxy way).
func isEndpointConn(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return bytes.Contains(line, []byte(" "+EndpointPathPrefix))
}

// serveEndpoints serves a connection made to the proxy's own address: each request names an
// endpoint by its path, is judged by the policy, gets the key and goes on to the endpoint
// (WebSocket upgrades included).
func (p *Proxy) serveEndpoints(ctx context.Context, c net.Conn, br *bufio.Reader) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, EndpointPathPrefix)
		secret, tail, _ := strings.Cut(rest, "/")
		eps := LoadEndpoints(p.o.Home)
		i := slices.IndexFunc(eps, func(e Endpoint) bool { return e.Secret == secret })
		if !ok || i < 0 {
			http.Error(w, fmt.Sprintf("paddock: no endpoint is set for %q (paddock secret set NAME --endpoint URL)", secret), http.StatusNotFound)
			return
		}
		ep := eps[i]
		pol, _ := p.pol.get()
		d := p.decide(ctx, pol, ep.Host, ep.Port)
		rec := p.record("endpoint", ep.Host, ep.Port, d)
		svc := serviceOf(ep)
		if !d.Allow {
			p.audit.write(rec)
			if svc.API != "" {
				refusedAnswer(hostPort(ep.Host, ep.Port), d, p.denialText(ep.Host, ep.Port, d)).write(w, svc)
				return
			}
			w.Header().Set("X-Paddock-Egress", "denied")
			http.Error(w, strings.TrimSpace(p.denialText(ep.Host, ep.Port, d)), http.StatusForbidden)
			return
		}
		start := time.Now()
		key, hasKey := p.o.Secret(secret)
		if hasKey {
			rec.Credential = secret
		}
		up := p.plain
		if ep.Scheme == "https" {
			up = p.tlsUp
		}
		hostPort := net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port))
		if !hasKey {
			key = ""
			if a := p.missingKey(r, svc); a != nil {
				a.write(w, svc)
				p.audit.write(rec)
				return
			}
		}
		rp := p.keyProxy(svc, &key, &d, up, func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = ep.Scheme, hostPort
			pr.Out.URL.Path, pr.Out.URL.RawPath = "/"+tail, ""
			pr.Out.Host = hostPort
		})
		rp.ServeHTTP(w, r)
		if len(d.Addrs) > 0 {
			rec.Addr = d.Addrs[0].String()
		}
		rec.DurationMS = time.Since(start).Milliseconds()
		p.audit.write(rec)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: HeaderTimeout, IdleTimeout: HeaderTimeout, MaxHeaderBytes: MaxHeaderBytes, ErrorLog: quietLog}
	serveConn(ctx, srv, &bufConn{Conn: c, r: br})
}
