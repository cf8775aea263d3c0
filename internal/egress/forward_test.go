package egress

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Plain-HTTP requests through the proxy: bodies of known length, chunked ones, HEAD, 204,
// request bodies after the proxy's own 100 Continue (curl waits up to a second for it), the
// upstream connection kept for a client's next request and dialled again when the server dropped
// it, a server that closes, and the client's own headers (no User-Agent added).
func TestForwardPlainHTTP(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/chunked":
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s ua=%q body=%x", r.Method, r.URL.Path, r.Header.Get("User-Agent"), sha256.Sum256(b))
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	f := newFixture(t, Locked, "plain.test:80 "+hostOf(t, srv.URL))
	f.allow(false, "plain.test")

	// One client connection, several requests: the proxy keeps its upstream connection.
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	do := func(method, path, body string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req := fmt.Sprintf("%s http://plain.test%s HTTP/1.1\r\nHost: plain.test\r\n%s", method, path, strings.Join(hdr, ""))
		if body != "" {
			req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
		}
		expect := strings.Contains(req, "Expect: 100-continue")
		if !expect {
			io.WriteString(c, req+"\r\n"+body)
		} else {
			// As curl does: the body only after the proxy's 100 Continue.
			io.WriteString(c, req+"\r\n")
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			c.SetReadDeadline(time.Time{})
			if err != nil || resp.StatusCode != 100 {
				t.Fatalf("%s %s: no 100 Continue before the body: %v", method, path, err)
			}
			io.WriteString(c, body)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s body: %v", method, path, err)
		}
		return resp, b
	}
	for i := 0; i < 2; i++ {
		resp, b := do("GET", "/big", "")
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(big)) || !bytes.Equal(b, big) {
			t.Fatalf("big: %d, length %d, %d bytes, equal %v", resp.StatusCode, resp.ContentLength, len(b), bytes.Equal(b, big))
		}
	}
	if resp, b := do("GET", "/chunked", ""); string(b) != "part0;part1;part2;" || resp.ContentLength != -1 {
		t.Fatalf("chunked: %q %d", b, resp.ContentLength)
	}
	if resp, b := do("HEAD", "/big", ""); resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(big)) {
		t.Fatalf("HEAD: %d %d %d", resp.StatusCode, len(b), resp.ContentLength)
	}
	if resp, b := do("GET", "/empty", ""); resp.StatusCode != 204 || len(b) != 0 {
		t.Fatalf("204: %d %q", resp.StatusCode, b)
	}
	payload := strings.Repeat("x", 100000)
	want := fmt.Sprintf("POST /echo ua=\"\" body=%x", sha256.Sum256([]byte(payload)))
	if _, b := do("POST", "/echo", payload, "Expect: 100-continue\r\n"); string(b) != want {
		t.Fatalf("POST with 100-continue: %q, want %q", b, want)
	}
	if _, b := do("GET", "/echo", "", "User-Agent: curl/8\r\n"); !strings.Contains(string(b), `ua="curl/8"`) {
		t.Fatalf("user agent: %q", b)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d upstream connections for one client connection's requests, want 1", n)
	}
	// The server drops its idle connection: the next request is sent again on a new one.
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if resp, b := do("GET", "/big", ""); resp.StatusCode != 200 || !bytes.Equal(b, big) {
		t.Fatalf("after the server dropped the connection: %d, %d bytes", resp.StatusCode, len(b))
	}
	if resp, b := do("GET", "/close", ""); string(b) != "bye" || !resp.Close {
		t.Fatalf("close: %q, close %v", b, resp.Close)
	}
	r := f.lastAudit("plain.test")
	if r.Decision != "allow" || r.Proto != "http" || r.BytesIn < 3 {
		t.Fatalf("audit %+v", r)
	}
	var total int64
	for _, a := range f.audit() {
		if a.Host == "plain.test" && a.Error == "" {
			total += a.BytesIn
		}
	}
	if total < 3*int64(len(big)) {
		t.Errorf("audit counts %d bytes in, want at least the three big bodies (%d)", total, 3*len(big))
	}
}
