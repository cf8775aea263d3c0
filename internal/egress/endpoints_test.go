package egress

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/agenttest"
)

func (f *fixture) setEndpoint(secret, url string) {
	f.t.Helper()
	os.MkdirAll(EndpointsDir(f.home), 0o700)
	if err := os.WriteFile(filepath.Join(EndpointsDir(f.home), secret+".endpoint"), []byte(url+"\n"), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// An endpoint set with `secret set NAME --endpoint URL` is allowed (a loopback one too, which the
// policy refuses otherwise) and gets the key: a plain-HTTP one on loopback in the forwarded
// request, an HTTPS one through interception on its own port. With the locked preset it is not
// allowed, and an http endpoint that is not loopback is ignored.
func TestEndpoints(t *testing.T) {
	// The server's view, kept here: its echo comes back to the client with the key masked.
	var mu sync.Mutex
	var saw string
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		saw = fmt.Sprintf("path=%s key=%s auth=%s", r.URL.Path, r.Header.Get("x-api-key"), r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, saw)
	})
	seen := func() string { mu.Lock(); defer mu.Unlock(); return saw }
	plain := httptest.NewServer(echo)
	defer plain.Close()
	f := newFixture(t, Balanced)
	f.mu.Lock()
	f.secrets["anthropic"], f.secrets["openai"] = "sk-real-ant", "sk-real-oai"
	f.mu.Unlock()

	// Before: loopback is refused.
	c := f.client(nil)
	resp, err := c.Get(plain.URL + "/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("loopback without endpoint: %d", resp.StatusCode)
	}

	f.setEndpoint("anthropic", plain.URL+"/anthropic")
	req, _ := http.NewRequest("POST", plain.URL+"/anthropic/v1/messages", strings.NewReader("{}"))
	req.Header.Set("x-api-key", Placeholder("anthropic"))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if seen() != "path=/anthropic/v1/messages key=sk-real-ant auth=" || string(b) != "path=/anthropic/v1/messages key=paddock-pla auth=" {
		t.Fatalf("plain endpoint: the server saw %q, the client got %d %q", seen(), resp.StatusCode, b)
	}
	if r := f.auditWhere("127.0.0.1", func(r Record) bool { return r.Decision == "allow" }); r.Credential != "anthropic" || r.Decision != "allow" || r.Source != "endpoint:anthropic" {
		t.Fatalf("audit %+v", r)
	}
	// Another loopback port is still refused.
	resp, err = c.Get("http://127.0.0.1:1/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("other loopback port: %d", resp.StatusCode)
		}
	}

	// An HTTPS endpoint on another port, named through the hosts map: intercepted, key put in.
	tlsSrv := newNamedTLSServer(t, "gw.corp.test", echo)
	f.writeHosts("gw.corp.test:8443 " + hostOf(t, tlsSrv.URL))
	f.upstream.AddCert(tlsSrv.Certificate())
	f.setEndpoint("openai", "https://gw.corp.test:8443/openai/v1")
	ca, err := LoadOrCreateCA(f.home)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	c = f.client(roots)
	req, _ = http.NewRequest("POST", "https://gw.corp.test:8443/openai/v1/responses", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+Placeholder("openai"))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if seen() != "path=/openai/v1/responses key= auth=Bearer sk-real-oai" || string(b) != "path=/openai/v1/responses key= auth=Bearer paddock-pla" {
		t.Fatalf("https endpoint: the server saw %q, the client got %d %q", seen(), resp.StatusCode, b)
	}

	// Locked: endpoints are not allowed.
	lf := newFixture(t, Locked)
	lf.setEndpoint("anthropic", plain.URL)
	resp, err = lf.client(nil).Get(plain.URL + "/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("locked endpoint: %d", resp.StatusCode)
	}

	// A plain-http endpoint off loopback is never used.
	f.setEndpoint("google", "http://gemini.corp.test:8080")
	for _, e := range LoadEndpoints(f.home) {
		if e.Secret == "google" {
			t.Fatalf("http endpoint off loopback loaded: %+v", e)
		}
	}
}

// Codex opens its Responses WebSocket, and undici's proxy agent sends any request, through a
// CONNECT tunnel even to a plain-HTTP endpoint: the proxy serves HTTP inside the tunnel and puts
// the key in, the WebSocket upgrade included.
func TestEndpointConnectTunnel(t *testing.T) {
	api, err := agenttest.Start(agenttest.OpenAI, "ws reply", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	f := newFixture(t, Balanced)
	f.mu.Lock()
	f.secrets["openai"] = "sk-real-ws"
	f.mu.Unlock()
	f.setEndpoint("openai", api.URL)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", api.Addr(), api.Addr())
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", err, resp)
	}
	fmt.Fprintf(c, "GET /v1/responses HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
		api.Addr(), Placeholder("openai"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade through the tunnel: %v %+v", err, resp)
	}
	msg := []byte(`{"type":"response.create"}`)
	frame := append([]byte{0x81, 0x80 | byte(len(msg))}, 0, 0, 0, 0) // a zero mask
	c.Write(append(frame, msg...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 0, 4096)
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "response.completed") {
		n, err := br.Read(buf)
		if err != nil {
			t.Fatalf("reading events: %v (%q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !strings.Contains(string(got), "ws reply") {
		t.Fatalf("events: %q", got)
	}
	if k := api.Keys(); len(k) != 1 || k[0] != "sk-real-ws" {
		t.Fatalf("the API got keys %q", k)
	}
}

// A loopback endpoint through the proxy's own address (EndpointURL): what a sandbox's agent is
// given, since the endpoint's own loopback address inside the sandbox is the sandbox's. Plain
// requests and a WebSocket get the key; under locked the request is refused with the command
// that allows it.
func TestEndpointThroughProxyAddress(t *testing.T) {
	api, err := agenttest.Start(agenttest.OpenAI, "via the proxy address", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	f := newFixture(t, Balanced)
	f.mu.Lock()
	f.secrets["openai"] = "sk-real-addr"
	f.mu.Unlock()
	f.setEndpoint("openai", api.URL) // http://127.0.0.1:PORT/v1
	_, ps, _ := net.SplitHostPort(f.addr)
	port, _ := strconv.Atoi(ps)
	base := EndpointURL(port, "openai", api.URL)
	if want := "http://" + f.addr + "/paddock-endpoint/openai/v1"; base != want {
		t.Fatalf("EndpointURL = %q, want %q", base, want)
	}
	if got := EndpointURL(port, "openai", "https://gw.example.com/v1"); got != "https://gw.example.com/v1" {
		t.Fatalf("a remote endpoint is given as it is: %q", got)
	}
	req, _ := http.NewRequest("POST", base+"/responses?x=1", strings.NewReader(`{"stream":true}`))
	req.Header.Set("Authorization", "Bearer "+Placeholder("openai"))
	resp, err := http.DefaultClient.Do(req) // straight to the proxy's address, not as a proxy
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "via the proxy address") {
		t.Fatalf("through the proxy address: %d %s", resp.StatusCode, b)
	}
	reqs := api.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/responses?x=1" || api.Keys()[0] != "sk-real-addr" {
		t.Fatalf("the endpoint saw %s", api.Summary())
	}
	if r := f.auditWhere("127.0.0.1", func(r Record) bool { return r.Decision == "allow" }); r.Credential != "openai" || r.Decision != "allow" || r.Proto != "endpoint" {
		t.Fatalf("audit %+v", r)
	}
	// The WebSocket Codex opens first.
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /paddock-endpoint/openai/v1/responses HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n", f.addr, Placeholder("openai"))
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %+v", err, resp)
	}
	msg := []byte(`{"type":"response.create"}`)
	c.Write(append(append([]byte{0x81, 0x80 | byte(len(msg))}, 0, 0, 0, 0), msg...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "response.completed") {
		n, err := br.Read(buf)
		if err != nil {
			t.Fatalf("events: %v %q", err, got)
		}
		got = append(got, buf[:n]...)
	}
	// Locked: refused, and the answer says how to allow it.
	lf := newFixture(t, Locked)
	lf.setEndpoint("openai", api.URL)
	resp, err = http.Post("http://"+lf.addr+"/paddock-endpoint/openai/v1/responses", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	// (in the API's error format, as the final answer the agent shows at once: see apiAnswer)
	if resp.StatusCode != apiFinal || resp.Header.Get("X-Should-Retry") != "false" ||
		!strings.Contains(string(b), `"type":"paddock_egress_denied"`) || !strings.Contains(string(b), "paddock policy allow 127.0.0.1:") {
		t.Fatalf("locked: %d %s", resp.StatusCode, b)
	}
	// An unknown name.
	resp, _ = http.Get("http://" + f.addr + "/paddock-endpoint/github/x")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("no endpoint: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
