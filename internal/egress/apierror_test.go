package egress

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// finalWords are what OpenCode (1.18) takes for a passing fault in an error's message or body,
// whatever the status: a final answer must say none of them.
var finalWords = []string{"connection refused", "econnrefused", "timeout", "timed out", "unavailable", "network error",
	"fetch failed", "getaddrinfo", "enotfound", "overloaded", "server error", "try again", "429", "500", "502", "503", "504"}

func TestUnreachableAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := net.DialTimeout("tcp", addr, time.Second)
	if refused == nil {
		t.Fatal("something listens at " + addr)
	}
	cases := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"nothing listens", refused, apiFinal, "paddock: api.test:443 cannot be reached: nothing accepts connections at " + addr + " (the policy allows it)"},
		{"no such name", &net.DNSError{Err: "no such host", Name: "api.test", IsNotFound: true}, apiFinal, "its name does not resolve"},
		{"a timeout", &net.DNSError{Err: "i/o timeout", Name: "api.test", IsTimeout: true}, http.StatusGatewayTimeout, "did not answer in time"},
		{"anything else", io.ErrUnexpectedEOF, http.StatusServiceUnavailable, "paddock: api.test:443 failed: unexpected EOF"},
	}
	for _, c := range cases {
		a := unreachableAnswer("api.test:443", c.err, c.err.Error())
		if a.status != c.status || !strings.Contains(a.msg, c.want) || a.kind != "unreachable" {
			t.Errorf("%s: %d %q, want %d with %q", c.name, a.status, a.msg, c.status, c.want)
		}
		if a.final() {
			for _, format := range []string{"anthropic", "openai", "google"} {
				// (the address is the test's: a port like 45003 would say "500")
				body := strings.ToLower(strings.ReplaceAll(string(apiErrorBody(format, a)), addr, "ADDR"))
				for _, w := range finalWords {
					if strings.Contains(body, w) {
						t.Errorf("%s: the final answer in the %s format says %q (OpenCode retries that): %s", c.name, format, w, body)
					}
				}
			}
		}
	}
	// An allowed name that does not resolve: final unless the DNS server did not answer; and no
	// "to allow it" (it is allowed).
	d := Decision{Unresolved: true, Reason: "cannot resolve api.test: no such host"}
	if a := refusedAnswer("api.test:443", d, "x"); a.status != apiFinal || !strings.Contains(a.msg, "its name does not resolve") {
		t.Errorf("unresolved: %+v", a)
	}
	if h := AllowHint("api.test", 443, d, "sb"); h != "" {
		t.Errorf("an allow hint for an allowed name: %q", h)
	}
	d.Temporary = true
	if a := refusedAnswer("api.test:443", d, "x"); a.final() {
		t.Errorf("a DNS server that did not answer is final: %+v", a)
	}
}

// TestAPIEndpointUnreachable: an agent's API endpoint where nothing listens is answered at once,
// final, in the API's format.
func TestAPIEndpointUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	f := newFixture(t, Balanced)
	f.setEndpoint("anthropic", "http://127.0.0.1:"+strconv.Itoa(port))
	f.mu.Lock()
	f.secrets["anthropic"] = "sk-real-KEY-0123456789"
	f.mu.Unlock()
	req, _ := http.NewRequest("POST", "http://"+f.addr+"/paddock-endpoint/anthropic/v1/messages", strings.NewReader("{}"))
	req.Header.Set("x-api-key", Placeholder("anthropic"))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"error":{"message":"paddock: 127.0.0.1:` + strconv.Itoa(port) + ` cannot be reached: nothing accepts connections at 127.0.0.1:` +
		strconv.Itoa(port) + ` (the policy allows it)","type":"api_error"},"type":"error"}`
	if resp.StatusCode != apiFinal || resp.Header.Get("X-Should-Retry") != "false" || strings.TrimSpace(string(b)) != want {
		t.Fatalf("%d %v %s\nwant %s", resp.StatusCode, resp.Header, b, want)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("answered in %v", took)
	}
	// The placeholder of a key that is not stored never leaves.
	f.mu.Lock()
	delete(f.secrets, "anthropic")
	f.mu.Unlock()
	req, _ = http.NewRequest("POST", "http://"+f.addr+"/paddock-endpoint/anthropic/v1/messages", strings.NewReader("{}"))
	req.Header.Set("x-api-key", Placeholder("anthropic"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != apiFinal || !strings.Contains(string(b), "paddock: no anthropic key is stored") {
		t.Fatalf("no key: %d %s", resp.StatusCode, b)
	}
}
