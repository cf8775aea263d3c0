package egress

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// Names a sandbox gives are checked before anything logs, prints or resolves them.
func TestCleanHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Example.COM.", "example.com"},
		{"my_service", "my_service"},
		{"[::1]", "::1"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"BÜCHER.example", "xn--bcher-kva.example"},
		{"evil.test\n2026-01-01 sandbox allow", ""},
		{"evil\x1b]0;pwned\x07.test", ""},
		{"a b", ""},
		{"$(touch /tmp/x)", ""},
		{"x;rm -rf ~", ""},
		{"fe80::1%eth0", ""},
		{"-lead.test", ""},
		{strings.Repeat("a", 64) + ".test", ""},
		{"", ""},
		{"\xff.test", ""},
		{"a\u202eb.test", ""},
	} {
		got, err := CleanHost(c.in)
		if got != c.want || (c.want == "") != (err != nil) {
			t.Errorf("CleanHost(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// What paddock prints for a user to copy is quoted for a shell; a name that is not one gets no
// command at all.
func TestAllowCommandQuoted(t *testing.T) {
	for _, c := range []struct {
		host     string
		port     int
		sb, want string
	}{
		{"example.com", 443, "shell-x", "paddock policy allow example.com --sandbox shell-x"},
		{"::1", 8080, "", "paddock policy allow '[::1]:8080'"},
		{"example.com", 22, "it's", `paddock policy allow example.com:22 --sandbox 'it'\''s'`},
		{"evil.test; touch /tmp/pwned", 443, "", ""},
		{"evil.test\npaddock policy allow '*'", 443, "", ""},
	} {
		if got := AllowCommand(c.host, c.port, c.sb); got != c.want {
			t.Errorf("AllowCommand(%q, %d, %q) = %q; want %q", c.host, c.port, c.sb, got, c.want)
		}
	}
	if got := Printable("a\nb\x1b[2J"); strings.ContainsAny(got, "\n\x1b") {
		t.Errorf("Printable: %q", got)
	}
}

// The masking reader finds a key however the body is cut, keeps lengths, and holds back nothing
// that cannot begin the key.
func TestScrubReader(t *testing.T) {
	key := "sk-ant-REAL-0123456789"
	s := newScrubber("anthropic", []string{key})
	body := "a" + key + "b" + key[:5] + "c" + key + key + "sk-"
	want := strings.ReplaceAll(body, key, (Placeholder("anthropic") + "xxxxxxxxxxxxxxxxxxxxxx")[:len(key)])
	for _, r := range []io.Reader{strings.NewReader(body), iotest.OneByteReader(strings.NewReader(body)), iotest.HalfReader(strings.NewReader(body))} {
		b, err := io.ReadAll(&scrubReader{r: r, s: s})
		if err != nil || string(b) != want {
			t.Fatalf("scrubbed %q, %v; want %q", b, err, want)
		}
	}
	// A streamed answer is passed on at once when its end cannot begin the key.
	pr, pw := io.Pipe()
	z := &scrubReader{r: pr, s: s}
	go pw.Write([]byte("data: {\"x\":1}\n\n"))
	buf := make([]byte, 100)
	done := make(chan int)
	go func() { n, _ := z.Read(buf); done <- n }()
	select {
	case n := <-done:
		if string(buf[:n]) != "data: {\"x\":1}\n\n" {
			t.Fatalf("streamed %q", buf[:n])
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the scrubber held a streamed event back")
	}
	pw.Close()
}

// A name no rule allows at that port is not looked up, even with a range rule present; one a
// rule allows is, and the decision says so.
func TestNoLookupWithoutRule(t *testing.T) {
	var asked atomic.Int32
	p := &Proxy{res: &resolver{lookup: func(ctx context.Context, name string) ([]netip.Addr, error) {
		asked.Add(1)
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}}}
	pol := &Policy{}
	for _, s := range []string{"10.0.0.0/8", "db.internal:5432"} {
		r, _ := ParseRule(s)
		pol.Entries = append(pol.Entries, Entry{Rule: r, Source: "sandbox"})
	}
	d := p.decide(context.Background(), pol, "c2VjcmV0.exfil.evil.test", 53)
	if d.Allow || asked.Load() != 0 || d.Looked {
		t.Fatalf("a name no rule allows: %+v, %d lookups", d, asked.Load())
	}
	d = p.decide(context.Background(), pol, "db.internal", 80)
	if d.Allow || asked.Load() != 0 {
		t.Fatalf("a named host on another port: %+v, %d lookups", d, asked.Load())
	}
	d = p.decide(context.Background(), pol, "db.internal", 5432)
	if !d.Allow || asked.Load() != 1 || !d.Looked || len(d.Resolved) != 1 || d.Resolved[0] != "10.1.2.3" {
		t.Fatalf("an allowed name: %+v, %d lookups", d, asked.Load())
	}
}

// A request header past MaxHeaderBytes is refused with 431 (not read into memory), through
// CONNECT and plain proxying alike, and on an intercepted connection.
func TestHeaderBound(t *testing.T) {
	f := newFixture(t, Open)
	for _, start := range []string{"CONNECT example.com:443 HTTP/1.1\r\n", "GET http://example.com/ HTTP/1.1\r\n"} {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			io.WriteString(c, start+"Host: example.com\r\n")
			line := "X-Fill: " + strings.Repeat("a", 1000) + "\r\n"
			for i := 0; i < 4096; i++ { // 4 MB
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
		}()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%q with 4 MB of header: %v %v", start, resp, err)
		}
		c.Close()
	}
}

// Past MaxConns connections at once, a new one is closed at once (and logged once).
func TestConnBound(t *testing.T) {
	f := newFixture(t, Locked)
	var cs []net.Conn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for i := 0; i < MaxConns; i++ {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	time.Sleep(300 * time.Millisecond) // all accepted
	extra, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err != io.EOF && !strings.Contains(fmt.Sprint(err), "reset") {
		t.Fatalf("connection %d: %v, want closed", MaxConns+1, err)
	}
	found := false
	for end := time.Now().Add(5 * time.Second); !found && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for _, r := range f.audit() {
			found = found || strings.HasPrefix(r.Reason, "too many connections")
		}
	}
	if !found {
		t.Fatalf("no audit record of the refused connection: %+v", f.audit())
	}
}

// A SOCKS5 name with a newline and terminal escapes is refused and logged quoted: no forged line.
func TestSOCKSBadName(t *testing.T) {
	f := newFixture(t, Open)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	name := "x.test\n2026-01-01 00:00:00 sb1 socks5 forged.test 443 allow\x1b[2J"
	msg := append([]byte{5, 1, 0, 5, 1, 0, 3, byte(len(name))}, name...)
	c.Write(append(msg, 1, 187))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply := make([]byte, 12)
	if _, err := io.ReadFull(c, reply); err != nil || reply[3] != 1 {
		t.Fatalf("reply %v %v", reply, err)
	}
	recs := f.audit()
	if len(recs) != 1 || strings.ContainsAny(recs[0].Host, "\n\x1b") || recs[0].Reason != "not a valid host name" {
		t.Fatalf("audit %+v", recs)
	}
}

// On an intercepted endpoint on a port other than 443, a request whose Host names another host
// (or port) is refused: the key goes to the endpoint only.
func TestHostCheckEveryPort(t *testing.T) {
	var got atomic.Int32
	srv := newNamedTLSServer(t, "gw.corp.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		fmt.Fprintf(w, "host=%s auth=%s", r.Host, r.Header.Get("Authorization"))
	}))
	f := newFixture(t, Balanced, "gw.corp.test:8443 "+hostOf(t, srv.URL))
	f.upstream.AddCert(srv.Certificate())
	f.mu.Lock()
	f.secrets["openai"] = "sk-real-oai-0123456789"
	f.mu.Unlock()
	f.setEndpoint("openai", "https://gw.corp.test:8443/v1")
	ca, _ := LoadOrCreateCA(f.home)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	c := f.client(roots)
	for _, host := range []string{"evil.test", "evil.test:8443", "gw.corp.test:9999", "gw.corp.test"} {
		req, _ := http.NewRequest("GET", "https://gw.corp.test:8443/v1/x", nil)
		req.Header.Set("Authorization", "Bearer "+Placeholder("openai"))
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMisdirectedRequest || strings.Contains(string(b), "sk-real") {
			t.Fatalf("Host %s on the endpoint's connection: %d %s", host, resp.StatusCode, b)
		}
	}
	if got.Load() != 0 {
		t.Fatalf("%d steered requests reached upstream", got.Load())
	}
	req, _ := http.NewRequest("GET", "https://gw.corp.test:8443/v1/x", nil)
	req.Header.Set("Authorization", "Bearer "+Placeholder("openai"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "host=gw.corp.test:8443 auth=Bearer paddock-placeholder-"[:len("host=gw.corp.test:8443 auth=Bearer ")]+(Placeholder("openai") + "xxxx")[:len("sk-real-oai-0123456789")] {
		t.Fatalf("the endpoint's own request: %d %q", resp.StatusCode, b)
	}
}

// The key goes only where each service reads it.
func TestInjectOnlyWhereRead(t *testing.T) {
	for _, c := range []struct {
		svc       string
		hdrs      map[string]string
		query     string
		wantHdrs  map[string]string
		wantQuery string
	}{
		{"anthropic", map[string]string{"x-api-key": "PH", "Authorization": "Bearer PH", "X-Echo": "PH"}, "key=PH",
			map[string]string{"x-api-key": "K", "Authorization": "Bearer K", "X-Echo": "PH"}, "key=PH"},
		{"openai", map[string]string{"Authorization": "Bearer PH", "x-api-key": "PH"}, "",
			map[string]string{"Authorization": "Bearer K", "x-api-key": "PH"}, ""},
		{"google", map[string]string{"x-goog-api-key": "PH", "Authorization": "Bearer PH"}, "key=PH&q=PH",
			map[string]string{"x-goog-api-key": "K", "Authorization": "Bearer PH"}, "key=K&q=PH"},
	} {
		svc, _ := ServiceFor(map[string]string{"anthropic": "api.anthropic.com", "openai": "api.openai.com", "google": "generativelanguage.googleapis.com"}[c.svc])
		ph := Placeholder(c.svc)
		r, _ := http.NewRequest("GET", "https://x/?"+strings.ReplaceAll(c.query, "PH", ph), nil)
		for k, v := range c.hdrs {
			r.Header.Set(k, strings.ReplaceAll(v, "PH", ph))
		}
		inject(r, svc, "sk-the-real-key")
		for k, v := range c.wantHdrs {
			want := strings.ReplaceAll(strings.ReplaceAll(v, "PH", ph), "K", "sk-the-real-key")
			if got := r.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", c.svc, k, got, want)
			}
		}
		want := strings.ReplaceAll(strings.ReplaceAll(c.wantQuery, "PH", ph), "K", "sk-the-real-key")
		if r.URL.RawQuery != want {
			t.Errorf("%s: query %q, want %q", c.svc, r.URL.RawQuery, want)
		}
	}
}

// On the plain-HTTP side (a loopback endpoint), what the endpoint sends back is scrubbed too: a
// header, Location, and a gzip body (decoded).
func TestScrubPlainEndpoint(t *testing.T) {
	const key = "sk-real-plain-0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get("x-api-key")
		w.Header().Set("X-Echo", k)
		w.Header().Set("Location", "http://evil.test/?k="+k)
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		fmt.Fprintf(gz, "your key is %s", k)
		gz.Close()
	}))
	defer srv.Close()
	f := newFixture(t, Balanced)
	f.mu.Lock()
	f.secrets["anthropic"] = key
	f.mu.Unlock()
	f.setEndpoint("anthropic", srv.URL)
	req, _ := http.NewRequest("GET", srv.URL+"/v1/x", nil)
	req.Header.Set("x-api-key", Placeholder("anthropic"))
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: f.addr}), DisableCompression: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dump := fmt.Sprint(resp.Header) + string(b)
	if strings.Contains(dump, key) || string(b) != "your key is "+(Placeholder("anthropic") + "xxxxxxxx")[:len(key)] {
		t.Fatalf("the client got %s", dump)
	}
}
