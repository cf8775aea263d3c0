package egress

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// A CONNECT through an upstream proxy reaches the allowed address (with the proxy's
// credentials); a proxy that refuses gives its status; a bad URL is refused.
func TestUpstreamConnect(t *testing.T) {
	target, _ := net.Listen("tcp", "127.0.0.1:0")
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	upstream := func(status string) (string, chan string) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		t.Cleanup(func() { ln.Close() })
		seen := make(chan string, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					c.Close()
					continue
				}
				seen <- req.Method + " " + req.Host + " " + req.Header.Get("Proxy-Authorization")
				if strings.HasPrefix(status, "200") {
					// The answer and the far end's first bytes in one write, as a
					// proxy relaying a server that speaks first may send them.
					up, _ := net.Dial("tcp", req.Host)
					first := make([]byte, 2)
					io.ReadFull(up, first)
					io.WriteString(c, "HTTP/1.1 "+status+"\r\n\r\n"+string(first))
					io.Copy(c, up)
				} else {
					io.WriteString(c, "HTTP/1.1 "+status+"\r\n\r\n")
				}
				c.Close()
			}
		}()
		return ln.Addr().String(), seen
	}
	addr := netip.MustParseAddrPort(target.Addr().String())
	ok, seen := upstream("200 Connection established")
	p := &Proxy{o: Options{Upstream: "http://u:pw@" + ok}}
	c, err := p.dial(context.Background(), []netip.AddrPort{addr})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "hello" {
		t.Fatalf("through the upstream: %q", b)
	}
	if s := <-seen; s != "CONNECT "+addr.String()+" Basic dTpwdw==" {
		t.Fatalf("the upstream saw %q", s)
	}
	no, _ := upstream("407 Proxy Authentication Required")
	p = &Proxy{o: Options{Upstream: "http://" + no}}
	if _, err := p.dial(context.Background(), []netip.AddrPort{addr}); err == nil || !strings.Contains(err.Error(), "407") {
		t.Fatalf("refusing upstream: %v", err)
	}
	if _, err := ParseUpstream("socks5://x:1"); err == nil {
		t.Fatal("a socks5 upstream was taken")
	}
}
