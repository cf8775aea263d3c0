package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is one sandbox's egress proxy.
type Proxy struct {
	o      Options
	pol    *livePolicy
	res    *resolver
	audit  *auditLog
	ca     *CA
	log    *slog.Logger
	plain  *http.Transport // plain-HTTP requests
	tlsUp  *http.Transport // intercepted HTTPS requests
	closed atomic.Bool
	conns  chan struct{} // one token per open connection (MaxConns)
	full   atomic.Bool   // the last connection was refused for MaxConns (logged once)
}

// The bounds of what one sandbox can make its proxy hold (with the connection's own buffers:
// bufio 4 KiB, two copy buffers of 32 KiB, TLS records of 16 KiB each way when intercepted).
// docs/network.md states them ("Bounds").
const (
	// MaxConns is how many connections one sandbox may have open through its proxy at once;
	// more are closed at once (and logged once).
	MaxConns = 256
	// MaxHeaderBytes bounds a request's header (the request line included): CONNECT, plain
	// HTTP, and each request of an intercepted connection. A longer one gets 431.
	MaxHeaderBytes = 64 << 10
	// MaxResponseHeaderBytes bounds a response's header from upstream.
	MaxResponseHeaderBytes = 256 << 10
	// HandshakeTimeout bounds the start of a connection: its first byte, the SOCKS5
	// handshake, the TLS handshake of an intercepted connection.
	HandshakeTimeout = 30 * time.Second
	// HeaderTimeout bounds the wait for a request's header, from the end of the previous
	// request (an idle kept-alive connection is closed after it).
	HeaderTimeout = 2 * time.Minute
)

var errHeaderTooLarge = errors.New("request header too large")

// limitConn bounds the bytes read from a connection while n >= 0 (a request's header); n < 0
// reads without bound (bodies, tunnels).
type limitConn struct {
	net.Conn
	n int64
}

func (l *limitConn) Read(b []byte) (int, error) {
	if l.n < 0 {
		return l.Conn.Read(b)
	}
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.Conn.Read(b)
	l.n -= int64(n)
	return n, err
}

type decisionKey struct{}

// New prepares a proxy: its CA, audit log and transports.
func New(o Options) (*Proxy, error) {
	if err := CheckPreset(o.Preset); err != nil {
		return nil, err
	}
	if o.HostsFile == "" {
		o.HostsFile = os.Getenv(HostsEnv)
	}
	if o.Secret == nil {
		o.Secret = defaultSecret(o.Home)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.UpstreamRoots == nil {
		roots, err := upstreamRoots()
		if err != nil {
			return nil, err
		}
		o.UpstreamRoots = roots
	}
	ca, err := LoadOrCreateCA(o.Home)
	if err != nil {
		return nil, fmt.Errorf("egress CA: %w", err)
	}
	audit, err := openAudit(AuditPath(o.StateDir))
	if err != nil {
		return nil, fmt.Errorf("egress audit log: %w", err)
	}
	p := &Proxy{o: o, pol: &livePolicy{home: o.Home, stateDir: o.StateDir, preset: o.Preset}, res: newResolver(o.HostsFile),
		audit: audit, ca: ca, log: o.Logger, conns: make(chan struct{}, MaxConns)}
	if _, err := p.pol.get(); err != nil {
		p.log.Warn("egress policy", "err", err)
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d, _ := ctx.Value(decisionKey{}).(*Decision)
		if d == nil || !d.Allow {
			return nil, errDenied
		}
		return p.dialDecision(ctx, d)
	}
	p.plain = &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 4, IdleConnTimeout: 60 * time.Second,
		DisableCompression: true, ResponseHeaderTimeout: 0, MaxResponseHeaderBytes: MaxResponseHeaderBytes}
	p.tlsUp = &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second,
		DisableCompression: true, ForceAttemptHTTP2: true, MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		TLSClientConfig: &tls.Config{RootCAs: o.UpstreamRoots, MinVersion: tls.VersionTLS12}}
	return p, nil
}

// Close releases the audit log and idle upstream connections.
func (p *Proxy) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.plain.CloseIdleConnections()
	p.tlsUp.CloseIdleConnections()
	p.audit.close()
}

// Serve accepts connections until ctx ends or ln fails.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var tempDelay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of descriptors, an aborted connection: wait and go on.
			if tempDelay == 0 {
				tempDelay = 5 * time.Millisecond
			} else if tempDelay *= 2; tempDelay > time.Second {
				tempDelay = time.Second
			}
			p.log.Warn("egress accept", "err", err)
			time.Sleep(tempDelay)
			continue
		}
		tempDelay = 0
		select {
		case p.conns <- struct{}{}:
			p.full.Store(false)
			go func() {
				defer func() { <-p.conns }()
				p.handle(ctx, c)
			}()
		default:
			c.Close()
			if !p.full.Swap(true) {
				p.log.Warn("egress: too many connections", "sandbox", p.o.Sandbox, "limit", MaxConns)
				p.audit.write(Record{Time: time.Now().UTC(), Sandbox: p.o.Sandbox, Proto: "tcp", Decision: "deny",
					Reason: fmt.Sprintf("too many connections at once (the limit is %d); closed until some end", MaxConns)})
			}
		}
	}
}

func (p *Proxy) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(HandshakeTimeout))
	lc := &limitConn{Conn: c, n: MaxHeaderBytes}
	br := bufio.NewReader(lc)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	if first[0] == 0x05 {
		p.socks(ctx, c, lc, br)
		return
	}
	if isEndpointConn(br) {
		lc.n = -1
		p.serveEndpoints(ctx, c, br)
		return
	}
	p.httpProxy(ctx, c, lc, br)
}

// target is the canonical name of a host a sandbox asked for; a name that is not one is refused
// (and logged, escaped) here.
func (p *Proxy) target(proto, raw string, port int) (string, bool) {
	h, err := CleanHost(raw)
	if err == nil {
		return h, true
	}
	if len(raw) > 256 {
		raw = raw[:256] + "..."
	}
	p.audit.write(Record{Time: time.Now().UTC(), Sandbox: p.o.Sandbox, Proto: proto, Host: strconv.QuoteToASCII(raw),
		Port: port, Decision: "deny", Reason: "not a valid host name"})
	return "", false
}

// decide judges host:port against the current policy, resolving the name when a rule could
// allow it.
func (p *Proxy) decide(ctx context.Context, pol *Policy, host string, port int) Decision {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == HostServices {
		return p.decideHostServices(ctx, pol, port)
	}
	_, litErr := netip.ParseAddr(host)
	need := litErr == nil
	for _, e := range pol.Entries {
		if e.Deny && e.Rule.MatchName(host, port) {
			return Decision{Rule: e.Rule.String(), Source: e.Source, Reason: "denied by rule " + e.Rule.String()}
		}
		if !e.Deny && e.Rule.MatchName(host, port) {
			need = true
		}
	}
	// A name no host rule allows at this port is never looked up in DNS, even with range rules
	// present: the query itself would carry what the sandbox put in the name out through the
	// host's resolver. (The test hosts map is read, not asked.)
	if !need && !p.res.mapped(host, port) {
		return Decision{Reason: "no rule allows " + hostPort(host, port)}
	}
	addrs, trusted, looked, err := p.res.resolve(ctx, host, port)
	if err != nil {
		d := pol.Decide(host, port, nil, false, SpecialKind)
		if d.Rule == "" || !strings.HasPrefix(d.Reason, "denied") {
			// A name a rule allows that does not resolve: the upstream cannot be found.
			d.Unresolved, d.Temporary = d.Allow, d.Allow && temporaryDNS(err)
			d.Allow, d.Reason = false, "cannot resolve "+host+": "+shortErr(err)
		}
		d.Looked = looked
		return d
	}
	d := pol.Decide(host, port, addrs, trusted, SpecialKind)
	if looked {
		d.Looked = true
		for _, a := range addrs {
			d.Resolved = append(d.Resolved, a.Addr().String())
		}
	}
	return d
}

// HostServices is the name that reaches the host's own loopback from a sandbox, through the
// proxy, at the ports rules name for it exactly (paddock policy allow host.paddock.internal:5432);
// no wildcard, range or preset ("*" of open) reaches it.
const HostServices = "host.paddock.internal"

func (p *Proxy) decideHostServices(ctx context.Context, pol *Policy, port int) Decision {
	for _, e := range pol.Entries {
		if e.Deny && e.Rule.MatchName(HostServices, port) {
			return Decision{Rule: e.Rule.String(), Source: e.Source, Reason: "denied by rule " + e.Rule.String()}
		}
	}
	for _, e := range pol.Entries {
		if !e.Deny && e.Rule.Host == HostServices && e.Rule.MatchName(HostServices, port) {
			addrs, _, _, _ := p.res.resolve(ctx, HostServices, port)
			return Decision{Allow: true, Rule: e.Rule.String(), Source: e.Source, Addrs: addrs, Direct: true}
		}
	}
	return Decision{Reason: fmt.Sprintf("no rule names %s (the host's services need one with the port)", hostPort(HostServices, port))}
}

// temporaryDNS: the lookup failed for want of an answer (a timeout, a server failure), not
// because the name does not exist.
func temporaryDNS(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && !de.IsNotFound && (de.IsTimeout || de.IsTemporary)
}

func shortErr(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		if de.IsNotFound {
			return "no such host"
		}
		return de.Err
	}
	return err.Error()
}

func dialAddrs(ctx context.Context, addrs []netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return dialEach(addrs, func(a netip.AddrPort) (net.Conn, error) { return d.DialContext(ctx, "tcp", a.String()) })
}

// dialEach tries each address in turn; the last error if none answers.
func dialEach(addrs []netip.AddrPort, dial func(netip.AddrPort) (net.Conn, error)) (net.Conn, error) {
	var last error
	for _, a := range addrs {
		c, err := dial(a)
		if err == nil {
			return c, nil
		}
		last = err
	}
	if last == nil {
		last = errors.New("no address to dial")
	}
	return nil, last
}

func (p *Proxy) record(proto, host string, port int, d Decision) Record {
	r := Record{Time: time.Now().UTC(), Sandbox: p.o.Sandbox, Proto: proto, Host: host, Port: port,
		Rule: d.Rule, Source: d.Source, Decision: "deny", DNS: d.Looked, Resolved: d.Resolved}
	if d.Allow {
		r.Decision = "allow"
	} else {
		r.Reason = d.Reason
		for _, a := range d.Refused {
			r.Refused = append(r.Refused, a.String())
		}
	}
	return r
}

// denialText is what a refused client is told.
func (p *Proxy) denialText(host string, port int, d Decision) string {
	msg := fmt.Sprintf("paddock: %s refused (%s)", Printable(hostPort(host, port)), Printable(d.Reason))
	if cmd := AllowHint(host, port, d, p.o.Sandbox); cmd != "" {
		msg += "; to allow it: " + cmd
	}
	return msg + "\n"
}

// AllowHint is the command that would allow a refused connection, "" when no rule would (a deny
// rule refused it, or the name is not one): for a name that resolves into a private or reserved
// range no rule names, a rule for each of those addresses (the name itself is allowed already,
// and naming it again changes nothing); otherwise a rule for the name.
func AllowHint(host string, port int, d Decision, sandbox string) string {
	if d.Allow || d.Unresolved || strings.HasPrefix(d.Reason, "denied by rule") {
		return ""
	}
	if len(d.Refused) == 0 {
		return AllowCommand(host, port, sandbox)
	}
	var rules []string
	for _, a := range d.Refused {
		r := a.String()
		if a.Is6() {
			r = "[" + r + "]"
		}
		rules = append(rules, ShellQuote(r+":"+strconv.Itoa(port)))
	}
	cmd := "paddock policy allow " + strings.Join(rules, " ")
	if sandbox != "" {
		cmd += " --sandbox " + ShellQuote(sandbox)
	}
	return cmd
}

// RecordHint is AllowHint for a refusal read back from the audit log.
func RecordHint(r Record, sandbox string) string {
	d := Decision{Reason: r.Reason}
	for _, s := range r.Refused {
		if a, err := netip.ParseAddr(s); err == nil {
			d.Refused = append(d.Refused, a)
		}
	}
	return AllowHint(r.Host, r.Port, d, sandbox)
}

// AllowCommand is the command that would allow host:port for a sandbox, each word quoted for a
// shell where it needs to be; "" when host is not a host name or address (nothing to allow).
func AllowCommand(host string, port int, sandbox string) string {
	h, err := CleanHost(host)
	if err != nil || h != strings.Trim(host, "[]") {
		return ""
	}
	rule := h
	if a, err := netip.ParseAddr(h); err == nil && a.Is6() {
		rule = "[" + h + "]"
	}
	if port != 443 && port != 80 {
		rule += ":" + strconv.Itoa(port)
	}
	cmd := "paddock policy allow " + ShellQuote(rule)
	if sandbox != "" {
		cmd += " --sandbox " + ShellQuote(sandbox)
	}
	return cmd
}

// --- HTTP: CONNECT and plain requests ---

func (p *Proxy) httpProxy(ctx context.Context, c net.Conn, lc *limitConn, br *bufio.Reader) {
	for {
		c.SetReadDeadline(time.Now().Add(HeaderTimeout))
		lc.n = MaxHeaderBytes
		req, err := http.ReadRequest(br)
		lc.n = -1
		if err != nil {
			switch {
			case errors.Is(err, errHeaderTooLarge):
				writeStatus(c, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("paddock: the request's header is longer than %d bytes\n", MaxHeaderBytes))
			case err != io.EOF && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded):
				writeStatus(c, http.StatusBadRequest, "paddock: not an HTTP proxy request\n")
			}
			return
		}
		c.SetReadDeadline(time.Time{})
		if req.Method == http.MethodConnect {
			p.connect(ctx, c, br, req)
			return
		}
		if !p.forward(ctx, c, req) {
			return
		}
	}
}

func writeStatus(w io.Writer, code int, body string) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nX-Paddock-Egress: denied\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(body), body)
}

func (p *Proxy) connect(ctx context.Context, c net.Conn, br *bufio.Reader, req *http.Request) {
	host, ps, err := net.SplitHostPort(req.Host)
	if err != nil {
		writeStatus(c, http.StatusBadRequest, "paddock: CONNECT needs host:port\n")
		return
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		writeStatus(c, http.StatusBadRequest, "paddock: bad port in CONNECT\n")
		return
	}
	host, ok := p.target("connect", host, port)
	if !ok {
		writeStatus(c, http.StatusBadRequest, "paddock: CONNECT to something that is not a host name or address\n")
		return
	}
	pol, _ := p.pol.get()
	d := p.decide(ctx, pol, host, port)
	rec := p.record("connect", host, port, d)
	if !d.Allow {
		p.audit.write(rec)
		if svc, ok := ServiceFor(host); ok && port == 443 && svc.API != "" {
			p.refuseAPI(ctx, &bufConn{Conn: c, r: br}, host, svc, refusedAnswer(hostPort(host, port), d, p.denialText(host, port, d)))
			return
		}
		writeStatus(c, http.StatusForbidden, p.denialText(host, port, d))
		return
	}
	if svc, key, ok := p.intercepts(host, port); ok {
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		p.intercept(ctx, &bufConn{Conn: c, r: br}, host, port, d, rec, svc, key)
		return
	}
	start := time.Now()
	up, err := p.dialDecision(ctx, &d)
	if err != nil {
		rec.Error = err.Error()
		p.audit.write(rec)
		writeStatus(c, http.StatusBadGateway, fmt.Sprintf("paddock: %s: %v\n", hostPort(host, port), err))
		return
	}
	defer up.Close()
	rec.Addr = up.RemoteAddr().String()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	rec.BytesOut, rec.BytesIn = splice(c, br, up)
	rec.DurationMS = time.Since(start).Milliseconds()
	p.audit.write(rec)
}

// refuseAPI answers a refused connection to an agent's API inside the tunnel, as the API answers
// a request it will not serve (see apiAnswer): each request gets a, or the answer for a missing key
// first when it carries the placeholder of a secret that is not stored. An agent shows that at
// once; a refused tunnel it takes for a network fault and retries for minutes.
func (p *Proxy) refuseAPI(ctx context.Context, c net.Conn, host string, svc Service, a apiAnswer) {
	leaf, err := p.ca.Leaf(host)
	if err != nil {
		writeStatus(c, http.StatusForbidden, a.msg+"\n")
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	ts := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*leaf}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
	ts.SetDeadline(time.Now().Add(HandshakeTimeout))
	if err := ts.HandshakeContext(ctx); err != nil {
		return
	}
	ts.SetDeadline(time.Time{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := p.missingKey(r, svc); k != nil {
			k.msg += "; and " + strings.TrimPrefix(a.msg, "paddock: ")
			k.write(w, svc)
			return
		}
		a.write(w, svc)
	}), ReadHeaderTimeout: HeaderTimeout, IdleTimeout: HeaderTimeout, MaxHeaderBytes: MaxHeaderBytes, ErrorLog: quietLog}
	serveConn(ctx, srv, ts)
}

// missingKey is the answer to a request for svc's API that carries the placeholder of its secret
// while no key is stored; nil otherwise.
func (p *Proxy) missingKey(r *http.Request, svc Service) *apiAnswer {
	if svc.API == "" || !carriesPlaceholder(r, svc) {
		return nil
	}
	if _, ok := p.o.Secret(svc.Secret); ok {
		return nil
	}
	a := noKeyAnswer(svc)
	return &a
}

// intercepts reports whether connections to host:port carry a stored key the proxy must put in.
func (p *Proxy) intercepts(host string, port int) (Service, string, bool) {
	for _, scheme := range []string{"https", "http"} {
		// A CONNECT to a plain-HTTP endpoint (WebSockets, undici's proxy agent) is served as
		// plain HTTP inside the tunnel, the key put in as on any forwarded request.
		if ep, ok := p.endpointFor(scheme, host, port); ok {
			key, ok := p.o.Secret(ep.Secret)
			return serviceOf(ep), key, ok
		}
	}
	if port != 443 {
		return Service{}, "", false
	}
	svc, ok := ServiceFor(host)
	if !ok {
		return Service{}, "", false
	}
	key, ok := p.o.Secret(svc.Secret)
	// An agent's API is intercepted with no key stored too: a request with the placeholder is
	// answered here (missingKey), and one with the agent's own sign-in goes on as it is.
	return svc, key, ok || svc.API != ""
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// splice copies both ways until both sides are done and returns the bytes each way. Buffered
// bytes the reader already holds go first.
func splice(c net.Conn, br *bufio.Reader, up net.Conn) (out, in int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if n := br.Buffered(); n > 0 {
			b, _ := br.Peek(n)
			w, _ := up.Write(b)
			out += int64(w)
			br.Discard(n)
		}
		n, _ := io.Copy(up, c)
		out += n
		closeWrite(up)
	}()
	n, _ := io.Copy(c, up)
	in = n
	closeWrite(c)
	wg.Wait()
	return out, in
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}

// forward proxies one plain-HTTP request; it reports whether the client connection may carry
// another.
func (p *Proxy) forward(ctx context.Context, c net.Conn, req *http.Request) bool {
	if req.URL.Scheme != "http" || req.URL.Host == "" {
		writeStatus(c, http.StatusBadRequest, "paddock: the proxy takes absolute http:// URLs and CONNECT\n")
		return false
	}
	port := 80
	if ps := req.URL.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			writeStatus(c, http.StatusBadRequest, "paddock: bad port\n")
			return false
		}
		port = n
	}
	host, ok := p.target("http", req.URL.Hostname(), port)
	if !ok {
		writeStatus(c, http.StatusBadRequest, "paddock: a request for something that is not a host name or address\n")
		return false
	}
	pol, _ := p.pol.get()
	d := p.decide(ctx, pol, host, port)
	rec := p.record("http", host, port, d)
	if !d.Allow {
		p.audit.write(rec)
		req.Body.Close()
		writeStatus(c, http.StatusForbidden, p.denialText(host, port, d))
		return false
	}
	start := time.Now()
	removeHopHeaders(req.Header)
	req.RequestURI = ""
	var scrubKey func(*http.Response) error
	var body *countReader
	if req.Body != nil && req.Body != http.NoBody {
		body = &countReader{r: req.Body}
		req.Body = body
	}
	if ep, ok := p.endpointFor("http", host, port); ok {
		// A plain-HTTP endpoint (loopback only): the key goes into the request here.
		if key, ok := p.o.Secret(ep.Secret); ok {
			svc := serviceOf(ep)
			inject(req, svc, key)
			prepareScrubbed(req)
			scrubKey = func(resp *http.Response) error { return scrubResponse(resp, svc, key) }
			rec.Credential = ep.Secret
		}
	}
	if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
		// The client waits for this before it sends its body (curl up to a second): the proxy
		// takes the body either way and answers at once.
		req.Header.Del("Expect")
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // as the client sent it: none (net/http adds its own)
	}
	resp, err := p.plain.RoundTrip(req.WithContext(context.WithValue(ctx, decisionKey{}, &d)))
	if err == nil && scrubKey != nil {
		if err = scrubKey(resp); err != nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		msg := err.Error()
		if scrubKey != nil {
			// A transport error may quote the request.
			key, _ := p.o.Secret(rec.Credential)
			msg = newScrubber(rec.Credential, secretForms(req, serviceOf(Endpoint{Secret: rec.Credential}), key)).string(msg)
		}
		rec.Error = msg
		p.audit.write(rec)
		writeStatus(c, http.StatusBadGateway, fmt.Sprintf("paddock: %s: %s\n", hostPort(host, port), Printable(msg)))
		return false
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	cw := &countWriter{w: c}
	keep := !req.Close && !resp.Close
	if !keep {
		resp.Close = true
	}
	err = resp.Write(cw)
	if body != nil {
		rec.BytesOut = body.n
	}
	rec.BytesIn = cw.n
	rec.DurationMS = time.Since(start).Milliseconds()
	p.audit.write(rec)
	return err == nil && keep
}

var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade"}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, k := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(k))
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

type countReader struct {
	r io.ReadCloser
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
func (c *countReader) Close() error { return c.r.Close() }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// --- TLS interception for services with a stored key ---

type countConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.out.Add(int64(n))
	return n, err
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.in.Add(int64(n))
	return n, err
}

// intercept terminates the sandbox's TLS with a certificate from paddock's CA, and forwards each
// request over TLS (verified against the real roots) with the stored key in place of the
// placeholder.
func (p *Proxy) intercept(ctx context.Context, c net.Conn, host string, port int, d Decision, rec Record, svc Service, key string) {
	start := time.Now()
	var misdirected atomic.Int32
	cc := &countConn{Conn: c}
	var tc net.Conn = cc
	scheme, up := "http", p.plain
	if !svc.Plain {
		leaf, err := p.ca.Leaf(host)
		if err != nil {
			rec.Error = err.Error()
			p.audit.write(rec)
			return
		}
		ts := tls.Server(cc, &tls.Config{Certificates: []tls.Certificate{*leaf}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
		ts.SetDeadline(time.Now().Add(HandshakeTimeout))
		if err := ts.HandshakeContext(ctx); err != nil {
			rec.Error = "TLS handshake with the sandbox: " + err.Error()
			p.audit.write(rec)
			return
		}
		ts.SetDeadline(time.Time{})
		tc, scheme, up = ts, "https", p.tlsUp
	}
	if key != "" {
		rec.Credential = svc.Secret
	}
	defPort := map[string]int{"https": 443, "http": 80}[scheme]
	authority := host
	if strings.Contains(host, ":") {
		authority = "[" + host + "]"
	}
	if port != defPort {
		authority = net.JoinHostPort(host, strconv.Itoa(port))
	}
	rp := p.keyProxy(svc, &key, &d, up, func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme, pr.Out.URL.Host = scheme, authority
		pr.Out.Host = authority
	})
	// Each request's Host (or absolute URL) must name the host and port the connection was
	// made to, on every port and for upgrades alike: the key goes to that service only.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameAuthority(r.Host, host, port, defPort) {
			misdirected.Add(1)
			http.Error(w, fmt.Sprintf("paddock: a request for %s on a connection to %s; refused (the key of %s goes to %s only)",
				Printable(r.Host), hostPort(host, port), svc.Secret, hostPort(host, port)), http.StatusMisdirectedRequest)
			return
		}
		if a := p.missingKey(r, svc); a != nil {
			a.write(w, svc)
			return
		}
		rp.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: HeaderTimeout, IdleTimeout: HeaderTimeout, MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog: quietLog}
	serveConn(ctx, srv, tc)
	if n := misdirected.Load(); n > 0 {
		rec.Error = fmt.Sprintf("%d requests for another host refused", n)
	}
	rec.BytesOut, rec.BytesIn = cc.out.Load(), cc.in.Load()
	if len(d.Addrs) > 0 {
		rec.Addr = d.Addrs[0].String()
	}
	rec.DurationMS = time.Since(start).Milliseconds()
	p.audit.write(rec)
}

// keyProxy is the reverse proxy of a service's requests: target points each at the service,
// the key goes into the service's auth header only (the key the proxy holds at that request: a
// `secret set` meanwhile applies), and every form of it is masked in what comes back (header,
// body, trailers, WebSocket frames, the proxy's own error messages).
func (p *Proxy) keyProxy(svc Service, key *string, d *Decision, up http.RoundTripper, target func(*httputil.ProxyRequest)) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target(pr)
			if k, ok := p.o.Secret(svc.Secret); ok {
				*key = k
			}
			if *key != "" {
				inject(pr.Out, svc, *key)
				prepareScrubbed(pr.Out)
			}
		},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return up.RoundTrip(r.WithContext(context.WithValue(r.Context(), decisionKey{}, d)))
		}),
		ModifyResponse: func(resp *http.Response) error {
			if *key == "" {
				return nil
			}
			return scrubResponse(resp, svc, *key)
		},
		FlushInterval: -1,
		ErrorLog:      quietLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			msg := err.Error()
			if *key != "" {
				msg = newScrubber(svc.Secret, secretForms(r, svc, *key)).string(msg)
			}
			if svc.API != "" && r.Context().Err() == nil {
				hp := r.URL.Host
				if r.URL.Port() == "" {
					hp = net.JoinHostPort(r.URL.Hostname(), map[string]string{"http": "80", "https": "443"}[r.URL.Scheme])
				}
				unreachableAnswer(hp, err, msg).write(w, svc)
				return
			}
			http.Error(w, "paddock: "+Printable(msg), http.StatusBadGateway)
		},
	}
}

// quietLog drops net/http's own messages (a sandbox's bad requests are not the host's news).
var quietLog = log.New(io.Discard, "", 0)

// sameAuthority reports whether a request's authority (Host header or absolute URL) names host
// and port (the port may be left out when it is the scheme's default).
func sameAuthority(authority, host string, port, defPort int) bool {
	h, ps := authority, ""
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		h, ps = authority[:i], authority[i+1:]
		if !strings.HasPrefix(h, "[") && strings.Contains(h, ":") {
			h, ps = authority, "" // a bare IPv6 address
		}
	}
	want := defPort
	if ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil {
			return false
		}
		want = n
	}
	c, err := CleanHost(h)
	return err == nil && want == port && (c == host || sameLoopback(c, host))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// serveConn serves the one connection c with srv until c is closed (by the server after its
// last request, or by a handler that hijacked it: a WebSocket relayed by ReverseProxy) or ctx
// ends.
func serveConn(ctx context.Context, srv *http.Server, c net.Conn) {
	l := &oneConnListener{c: c, done: make(chan struct{})}
	go srv.Serve(l)
	select {
	case <-l.done:
	case <-ctx.Done():
	}
	srv.Close()
}

type oneConnListener struct {
	mu   sync.Mutex
	c    net.Conn
	done chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c != nil {
		return &closeConn{Conn: c, l: l}, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

// closeConn ends the interception when its connection is closed: by the server after the last
// request, or by the reverse proxy when a hijacked (upgraded, e.g. WebSocket) connection ends.
type closeConn struct {
	net.Conn
	l *oneConnListener
}

func (c *closeConn) Close() error {
	err := c.Conn.Close()
	c.l.finish()
	return err
}

func (l *oneConnListener) finish()        { l.once.Do(func() { close(l.done) }) }
func (l *oneConnListener) Close() error   { l.finish(); return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{} }

// --- SOCKS5 (RFC 1928), CONNECT only, no authentication ---

func (p *Proxy) socks(ctx context.Context, c net.Conn, lc *limitConn, br *bufio.Reader) {
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	ok := false
	for _, m := range methods {
		ok = ok || m == 0
	}
	if !ok {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, 0})
	var req [4]byte
	if _, err := io.ReadFull(br, req[:]); err != nil || req[0] != 5 {
		return
	}
	var host string
	switch req[3] {
	case 1, 4:
		n := 4
		if req[3] == 4 {
			n = 16
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return
		}
		a, _ := netip.AddrFromSlice(b)
		host = a.Unmap().String()
	case 3:
		l, err := br.ReadByte()
		if err != nil {
			return
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(br, b); err != nil {
			return
		}
		host = string(b)
	default:
		socksReply(c, 8)
		return
	}
	var pb [2]byte
	if _, err := io.ReadFull(br, pb[:]); err != nil {
		return
	}
	port := int(binary.BigEndian.Uint16(pb[:]))
	c.SetReadDeadline(time.Time{})
	lc.n = -1
	host, ok = p.target("socks5", host, port)
	if !ok {
		socksReply(c, 1)
		return
	}
	if req[1] != 1 {
		what := map[byte]string{2: "BIND", 3: "UDP ASSOCIATE"}[req[1]]
		if what == "" {
			what = "command " + strconv.Itoa(int(req[1]))
		}
		p.audit.write(p.record("socks5", host, port, Decision{Reason: "SOCKS5 " + what + " is not supported (TCP CONNECT only)"}))
		socksReply(c, 7)
		return
	}
	pol, _ := p.pol.get()
	d := p.decide(ctx, pol, host, port)
	rec := p.record("socks5", host, port, d)
	if !d.Allow {
		p.audit.write(rec)
		socksReply(c, 2)
		return
	}
	if svc, key, ok := p.intercepts(host, port); ok {
		socksReply(c, 0)
		p.intercept(ctx, &bufConn{Conn: c, r: br}, host, port, d, rec, svc, key)
		return
	}
	start := time.Now()
	up, err := p.dialDecision(ctx, &d)
	if err != nil {
		rec.Error = err.Error()
		p.audit.write(rec)
		socksReply(c, 5)
		return
	}
	defer up.Close()
	rec.Addr = up.RemoteAddr().String()
	socksReply(c, 0)
	rec.BytesOut, rec.BytesIn = splice(c, br, up)
	rec.DurationMS = time.Since(start).Milliseconds()
	p.audit.write(rec)
}

func socksReply(c net.Conn, code byte) {
	c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
}
