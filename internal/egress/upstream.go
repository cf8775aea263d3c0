package egress

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// ParseUpstream checks an upstream proxy URL: http://[user:pass@]host[:port] (port 80 by
// default).
func ParseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" {
		return nil, fmt.Errorf("upstream proxy %q: give an http://HOST:PORT URL", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "80")
	}
	return u, nil
}

// dial connects to one of addrs, the addresses the policy allowed: directly, or with an
// upstream proxy through a CONNECT tunnel to that address (the upstream never picks another).
func (p *Proxy) dial(ctx context.Context, addrs []netip.AddrPort) (net.Conn, error) {
	if p.o.Upstream == "" {
		return dialAddrs(ctx, addrs)
	}
	u, err := ParseUpstream(p.o.Upstream)
	if err != nil {
		return nil, err
	}
	return dialEach(addrs, func(a netip.AddrPort) (net.Conn, error) { return connectVia(ctx, u, a.String()) })
}

// connectVia opens a CONNECT tunnel to target through the upstream proxy u.
func connectVia(ctx context.Context, u *url.URL, target string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("upstream proxy %s: %w", u.Host, err)
	}
	deadline := time.Now().Add(HandshakeTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	c.SetDeadline(deadline)
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if u.User != nil {
		pass, _ := u.User.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)) + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		c.Close()
		return nil, fmt.Errorf("upstream proxy %s: %w", u.Host, err)
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("upstream proxy %s: %w", u.Host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("upstream proxy %s refused CONNECT %s: %s", u.Host, target, resp.Status)
	}
	c.SetDeadline(time.Time{})
	if n := br.Buffered(); n > 0 {
		// The far end spoke first (a banner) and its bytes came in the same read as
		// the proxy's answer: hand them over before the connection's own.
		head, _ := br.Peek(n)
		return &prefixConn{Conn: c, head: bytes.Clone(head)}, nil
	}
	return c, nil
}

// prefixConn is a tunnel whose first bytes were read along with the proxy's answer.
type prefixConn struct {
	net.Conn
	head []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

func (p *prefixConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// dialDecision dials what d allowed: the host's own services (host.paddock.internal) directly,
// never through an upstream proxy; the rest as dial does.
func (p *Proxy) dialDecision(ctx context.Context, d *Decision) (net.Conn, error) {
	if d.Direct {
		return dialAddrs(ctx, d.Addrs)
	}
	return p.dial(ctx, d.Addrs)
}
