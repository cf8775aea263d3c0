package agenttest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, c *http.Client, url, hdr, key, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set(hdr, key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// Each stand-in streams the reply the way its service does and records the key where the
// service expects it.
func TestStandIns(t *testing.T) {
	cases := []struct {
		api            API
		path, hdr, key string
		body           string
		want           []string
	}{
		{Anthropic, "/v1/messages?beta=true", "x-api-key", "sk-a", `{"model":"m","stream":true}`,
			[]string{"event: message_start", `{"text":"hello ","type":"text_delta"}`, "event: message_stop"}},
		{Anthropic, "/v1/messages", "x-api-key", "sk-a", `{"model":"m"}`, []string{`"text":"hello there"`, `"end_turn"`}},
		{OpenAI, "/responses", "Authorization", "Bearer sk-o", `{"model":"m","stream":true}`,
			[]string{"event: response.created", `"delta":"hello "`, "event: response.completed"}},
		{Gemini, "/v1beta/models/g:streamGenerateContent?alt=sse", "x-goog-api-key", "g-k", `{}`,
			[]string{`data: {"candidates"`, `"finishReason":"STOP"`}},
		{Gemini, "/v1beta/models/g:generateContent", "x-goog-api-key", "g-k",
			`{"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"OBJECT","properties":{"next_speaker":{"type":"STRING","enum":["model","user"]},"n":{"type":"INTEGER"}}}}}`,
			[]string{`{\"n\":1,\"next_speaker\":\"user\"}`}},
	}
	for _, c := range cases {
		s, err := Start(c.api, "hello there", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out := post(t, http.DefaultClient, s.URL+c.path, c.hdr, c.key, c.body)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %s: no %q in\n%s", c.api, c.path, w, out)
			}
		}
		if k := s.Keys(); len(k) != 1 || "Bearer "+k[0] != c.key && k[0] != c.key {
			t.Errorf("%s: keys %q", c.api, k)
		}
	}
}

// Codex's path: the Responses API over a WebSocket.
func TestResponsesWebSocket(t *testing.T) {
	s, _ := Start(OpenAI, "hi ws", "", nil)
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /v1/responses HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer sk-ws\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %v %+v", err, resp)
	}
	// A masked client text frame.
	msg := []byte(`{"type":"response.create","model":"m"}`)
	mask := []byte{1, 2, 3, 4}
	frame := append([]byte{0x81, 0x80 | byte(len(msg))}, mask...)
	for i, b := range msg {
		frame = append(frame, b^mask[i%4])
	}
	c.Write(frame)
	var types []string
	for len(types) == 0 || types[len(types)-1] != "response.completed" {
		op, payload, err := readFrame(br)
		if err != nil || op != 1 {
			t.Fatalf("frame: %v %d", err, op)
		}
		var ev struct{ Type, Delta string }
		json.Unmarshal(payload, &ev)
		types = append(types, ev.Type)
	}
	if !strings.Contains(strings.Join(types, " "), "response.output_text.delta") || s.Keys()[0] != "sk-ws" {
		t.Fatalf("events %q keys %q", types, s.Keys())
	}
}

// An HTTPS stand-in with a test CA: a client that trusts the CA reaches it under the real name.
func TestTLSStandIn(t *testing.T) {
	ca, err := NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := ca.Leaf("api.anthropic.com")
	s, err := Start(Anthropic, "tls ok", "", leaf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CAPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "api.anthropic.com"}}}
	if out := post(t, c, s.URL+"/v1/messages", "x-api-key", "k", `{}`); !strings.Contains(out, "tls ok") {
		t.Fatal(out)
	}
}
