package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

type fixture struct {
	t        testing.TB
	home     string
	state    string
	hosts    string
	addr     string // the proxy's address
	p        *Proxy
	upstream *x509.CertPool
	secrets  map[string]string
	mu       sync.Mutex
}

func newFixture(t testing.TB, preset string, hosts ...string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, home: filepath.Join(dir, "home"), state: filepath.Join(dir, "sb"), hosts: filepath.Join(dir, "hosts"),
		upstream: x509.NewCertPool(), secrets: map[string]string{}}
	f.writeHosts(hosts...)
	return f.start(preset)
}

func (f *fixture) writeHosts(lines ...string) {
	if err := os.WriteFile(f.hosts, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) start(preset string) *fixture {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := New(Options{Home: f.home, StateDir: f.state, Sandbox: "sb1", Preset: preset, HostsFile: f.hosts,
		UpstreamRoots: f.upstream, Secret: func(n string) (string, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			v, ok := f.secrets[n]
			return v, ok
		}})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Serve(ctx, ln); close(done) }()
	f.t.Cleanup(func() { cancel(); <-done; p.Close() })
	f.p, f.addr = p, ln.Addr().String()
	return f
}

func (f *fixture) allow(deny bool, rules ...string) {
	var rs []Rule
	for _, s := range rules {
		r, err := ParseRule(s)
		if err != nil {
			f.t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if err := (RuleFile{Path: SandboxPolicyPath(f.state), Source: "sandbox"}).Add(deny, rs...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) client(roots *x509.CertPool) *http.Client {
	u, _ := url.Parse("http://" + f.addr)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u),
		TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
}

func (f *fixture) audit() []Record {
	var out []Record
	ReadAudit(context.Background(), f.state, false, func(r Record) error { out = append(out, r); return nil })
	return out
}

// lastAudit waits for an audit record about host (allowed connections are logged when they end).
func (f *fixture) lastAudit(host string) Record {
	f.t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		recs := f.audit()
		for i := len(recs) - 1; i >= 0; i-- {
			if recs[i].Host == host {
				return recs[i]
			}
		}
	}
	f.t.Fatalf("no audit record for %s in %+v", host, f.audit())
	return Record{}
}

// auditWhere waits for the newest audit record for host that match accepts (an allowed
// connection is logged when it ends, after the client has its answer), and fails without one.
func (f *fixture) auditWhere(host string, match func(Record) bool) Record {
	f.t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		recs := f.audit()
		for i := len(recs) - 1; i >= 0; i-- {
			if recs[i].Host == host && match(recs[i]) {
				return recs[i]
			}
		}
	}
	return f.lastAudit(host)
}

func hostOf(t *testing.T, u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Host
}

func TestProxyHTTPSAndHTTP(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure "+r.URL.Path) }))
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain "+r.Host) }))
	defer plain.Close()
	f := newFixture(t, Locked,
		"allowed.test:443 "+hostOf(t, tlsSrv.URL),
		"denied.test:443 "+hostOf(t, tlsSrv.URL),
		"plain.test:80 "+hostOf(t, plain.URL))
	f.allow(false, "allowed.test:443", "plain.test")
	roots := x509.NewCertPool()
	roots.AddCert(tlsSrv.Certificate())
	c := f.client(roots)
	// The test server's certificate names example.com.
	c.Transport.(*http.Transport).TLSClientConfig.ServerName = "example.com"

	resp, err := c.Get("https://allowed.test/hello")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "secure /hello" {
		t.Fatalf("got %q", b)
	}
	r := f.lastAudit("allowed.test")
	if r.Decision != "allow" || r.Rule != "allowed.test:443" || r.Source != "sandbox" || r.BytesIn == 0 || r.BytesOut == 0 || r.Proto != "connect" {
		t.Fatalf("audit %+v", r)
	}

	if _, err := c.Get("https://denied.test/"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("denied.test: %v", err)
	}
	if r := f.lastAudit("denied.test"); r.Decision != "deny" || !strings.Contains(r.Reason, "no rule allows denied.test:443") {
		t.Fatalf("audit %+v", r)
	}

	resp, err = c.Get("http://plain.test/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "plain plain.test" {
		t.Fatalf("got %q", b)
	}
	if r := f.lastAudit("plain.test"); r.Decision != "allow" || r.Proto != "http" || r.BytesIn == 0 {
		t.Fatalf("audit %+v", r)
	}

	// A plain request to a denied host gets a 403 with the command that would allow it.
	resp, err = c.Get("http://other.test/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "paddock policy allow other.test --sandbox sb1") {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}

	// A policy change applies to the running proxy at once; so does a deny.
	f.allow(false, "denied.test:443")
	if resp, err := c.Get("https://denied.test/now"); err != nil {
		t.Fatalf("after allow: %v", err)
	} else {
		resp.Body.Close()
	}
	f.allow(true, "*.test")
	if _, err := c.Get("https://allowed.test/"); err == nil {
		t.Fatal("deny rule did not win")
	}
	if r := f.lastAudit("allowed.test"); r.Decision != "deny" || r.Rule != "*.test" {
		t.Fatalf("audit %+v", r)
	}
}

func rawConnect(t *testing.T, proxyAddr, target string) (int, string) {
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 {
		return 200, ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

func TestProxyEscapes(t *testing.T) {
	echo := echoServer(t)
	f := newFixture(t, Open, "mapped.test "+"127.0.0.1")
	// Names that resolve to loopback or private addresses through DNS, and literals.
	f.p.res.lookup = func(ctx context.Context, name string) ([]netip.Addr, error) {
		switch name {
		case "rebind.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "metadata.test":
			return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
		case "v6.test":
			return []netip.Addr{netip.MustParseAddr("::1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	_, port, _ := net.SplitHostPort(echo)
	host, _ := os.Hostname()
	var own string
	if addrs, _ := net.InterfaceAddrs(); len(addrs) > 0 {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
				own = n.IP.String()
			}
		}
	}
	cases := map[string]string{
		"127.0.0.1:" + port:       "loopback",
		"localhost:" + port:       "", // resolved by the system: 127.0.0.1 and perhaps ::1
		"rebind.test:" + port:     "loopback",
		"metadata.test:80":        "cloud metadata",
		"[::1]:" + port:           "loopback",
		"v6.test:" + port:         "loopback",
		"10.0.0.1:22":             "private",
		"[fe80::1]:22":            "link-local",
		"nonexistent.invalid:443": "cannot resolve",
	}
	if host != "" {
		cases[host+":"+port] = ""
	}
	if own != "" {
		cases[net.JoinHostPort(own, port)] = ""
	}
	for target, why := range cases {
		code, body := rawConnect(t, f.addr, target)
		if code != 403 || !strings.Contains(body, why) {
			t.Errorf("CONNECT %s: %d %q, want 403 with %q", target, code, body, why)
		}
	}
	// The hosts map is trusted (a testing knob), and rules still decide the port.
	if code, body := rawConnect(t, f.addr, "mapped.test:"+port); code != 200 {
		t.Errorf("mapped.test: %d %s", code, body)
	}
	g := newFixture(t, Locked, "mapped.test 127.0.0.1")
	g.allow(false, "mapped.test:443")
	if code, body := rawConnect(t, g.addr, "mapped.test:"+port); code != 403 || !strings.Contains(body, "no rule allows mapped.test:"+port) {
		t.Errorf("port outside the rule: %d %s", code, body)
	}
	// A rule naming loopback lets it through.
	g.allow(false, "127.0.0.0/8:"+port)
	if code, body := rawConnect(t, g.addr, "127.0.0.1:"+port); code != 200 {
		t.Errorf("127.0.0.0/8 rule: %d %s", code, body)
	}
}

func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestProxySOCKS5(t *testing.T) {
	echo := echoServer(t)
	f := newFixture(t, Locked, "git.test:22 "+echo, "no.test:22 "+echo)
	f.allow(false, "git.test:22")
	d, err := proxy.SOCKS5("tcp", f.addr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Dial("tcp", "git.test:22")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "SSH-2.0-test\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "SSH-2.0-test\r\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
	c.Close()
	if r := f.lastAudit("git.test"); r.Proto != "socks5" || r.Decision != "allow" || r.BytesOut != 14 || r.BytesIn != 14 {
		t.Fatalf("audit %+v", r)
	}
	if _, err := d.Dial("tcp", "no.test:22"); err == nil {
		t.Fatal("no.test allowed")
	}
	if r := f.lastAudit("no.test"); r.Decision != "deny" {
		t.Fatalf("audit %+v", r)
	}
	// UDP ASSOCIATE (DNS to an outside resolver through SOCKS) is refused and logged.
	c2, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte{5, 1, 0})
	var b [2]byte
	io.ReadFull(c2, b[:])
	c2.Write([]byte{5, 3, 0, 1, 8, 8, 8, 8, 0, 53})
	var rep [10]byte
	if _, err := io.ReadFull(c2, rep[:]); err != nil || rep[1] != 7 {
		t.Fatalf("UDP ASSOCIATE reply %v %v", rep, err)
	}
	if r := f.lastAudit("8.8.8.8"); r.Decision != "deny" || !strings.Contains(r.Reason, "UDP ASSOCIATE") {
		t.Fatalf("audit %+v", r)
	}
}

func TestCredentialInjection(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	// A stand-in with a certificate for the API's name: the proxy verifies the upstream by it.
	api := newNamedTLSServer(t, "api.anthropic.com", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		fmt.Fprintf(w, "host=%s key=%s q=%s auth=%s", r.Host, r.Header.Get("x-api-key"), r.URL.Query().Get("key"), r.Header.Get("Authorization"))
	}))
	f := newFixture(t, Balanced, "api.anthropic.com:443 "+hostOf(t, api.URL))
	f.upstream.AddCert(api.Certificate())
	f.mu.Lock()
	f.secrets["anthropic"] = "sk-real-KEY"
	f.mu.Unlock()
	ca, err := LoadOrCreateCA(f.home)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	c := f.client(roots)
	req, _ := http.NewRequest("POST", "https://api.anthropic.com/v1/messages?key="+Placeholder("anthropic"), strings.NewReader("{}"))
	req.Header.Set("x-api-key", Placeholder("anthropic"))
	req.SetBasicAuth("x", Placeholder("anthropic"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The key goes into the service's auth header only (x-api-key here): not the query, not
	// another header; and the echo comes back masked.
	mu.Lock()
	got := seen[len(seen)-1]
	mu.Unlock()
	if got.Get("x-api-key") != "sk-real-KEY" || got.Get("Authorization") != "Basic eDpwYWRkb2NrLXBsYWNlaG9sZGVyLWFudGhyb3BpYw==" {
		t.Fatalf("upstream saw %v", got)
	}
	if string(b) != "host=api.anthropic.com key=paddock-pla q=paddock-placeholder-anthropic auth=Basic eDpwYWRkb2NrLXBsYWNlaG9sZGVyLWFudGhyb3BpYw==" {
		t.Fatalf("the client got %q", b)
	}
	if r := f.lastAudit("api.anthropic.com"); r.Credential != "anthropic" || r.Decision != "allow" {
		t.Fatalf("audit %+v", r)
	}
	// Without the placeholder, the request goes as it is (a login token of the user's own).
	req, _ = http.NewRequest("GET", "https://api.anthropic.com/", nil)
	req.Header.Set("Authorization", "Bearer own-token")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "sk-real") || !strings.Contains(string(b), "auth=Bearer own-token") {
		t.Fatalf("upstream saw %q", b)
	}
	// A request steered at another host on the intercepted connection is refused.
	req, _ = http.NewRequest("GET", "https://api.anthropic.com/", nil)
	req.Host = "evil.test"
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("steered request: %d", resp.StatusCode)
	}
	// Without a stored key, an agent's API is still intercepted: a request with the placeholder
	// is answered by the proxy (it never leaves), one with the user's own sign-in goes on.
	f.mu.Lock()
	delete(f.secrets, "anthropic")
	n := len(seen)
	f.mu.Unlock()
	req, _ = http.NewRequest("POST", "https://api.anthropic.com/v1/messages", strings.NewReader("{}"))
	req.Header.Set("x-api-key", Placeholder("anthropic"))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != apiFinal || resp.Header.Get("X-Should-Retry") != "false" ||
		!strings.Contains(string(b), `"message":"paddock: no anthropic key is stored: `+"`paddock secret set anthropic`") {
		t.Fatalf("placeholder without key: %d %s", resp.StatusCode, b)
	}
	req, _ = http.NewRequest("GET", "https://api.anthropic.com/", nil)
	req.Header.Set("Authorization", "Bearer own-token")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	reached := len(seen) - n
	mu.Unlock()
	if reached != 1 || !strings.Contains(string(b), "auth=Bearer own-token") {
		t.Fatalf("without key: %d requests reached the API, the own sign-in got %q", reached, b)
	}
	if r := f.lastAudit("api.anthropic.com"); r.Credential != "" {
		t.Fatalf("no key, yet the audit names one: %+v", r)
	}
}

func newNamedTLSServer(t *testing.T, name string, h http.Handler) *httptest.Server {
	t.Helper()
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf(name)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{*leaf}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func TestAuditFollow(t *testing.T) {
	dir := t.TempDir()
	a, err := openAudit(AuditPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	a.write(Record{Host: "one"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan string, 4)
	go TailAudit(ctx, dir, func(r Record) error { got <- r.Host; return nil })
	time.Sleep(150 * time.Millisecond)
	a.write(Record{Host: "two"})
	select {
	case h := <-got:
		if h != "two" {
			t.Fatalf("tail saw %q first", h)
		}
	case <-ctx.Done():
		t.Fatal("tail saw nothing")
	}
}

func TestAuditRotation(t *testing.T) {
	dir := t.TempDir()
	defer func(n int64) { AuditMaxBytes = n }(AuditMaxBytes)
	AuditMaxBytes = 1000
	a, err := openAudit(AuditPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	for i := 0; i < 30; i++ {
		a.write(Record{Host: fmt.Sprintf("h%d.test", i), Decision: "deny"})
	}
	st, err := os.Stat(AuditPath(dir))
	if err != nil || st.Size() >= 1000 {
		t.Fatalf("current log: %v %v", st, err)
	}
	old, err := os.Stat(AuditPath(dir) + ".1")
	if err != nil || old.Size() == 0 || old.Size() >= 1000 {
		t.Fatalf("rotated log: %v %v", old, err)
	}
	var last string
	ReadAudit(context.Background(), dir, false, func(r Record) error { last = r.Host; return nil })
	if last != "h29.test" {
		t.Fatalf("last record %q", last)
	}
}
