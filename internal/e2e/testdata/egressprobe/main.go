// egressprobe is run inside a sandbox by internal/e2e/hostile_egress_test.go: it speaks to the
// egress proxy as a hostile process would and prints what came back, one "name: value" line
// each (values Go-quoted).
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const proxy = "127.0.0.1:3128"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: egressprobe socks NAME PORT | header BYTES | conns N | get URL [HOST] | ws URL | plain URL")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "socks":
		err = socks(unq(os.Args[2]), os.Args[3])
	case "header":
		err = header(os.Args[2])
	case "conns":
		err = conns(os.Args[2])
	case "get":
		host := ""
		if len(os.Args) > 3 {
			host = os.Args[3]
		}
		err = get(os.Args[2], host)
	case "ws":
		err = ws(os.Args[2])
	case "plain":
		err = plain(os.Args[2])
	}
	if err != nil {
		fmt.Printf("error: %q\n", err.Error())
		os.Exit(1)
	}
}

func unq(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

func socks(name, port string) error {
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	p, _ := strconv.Atoi(port)
	msg := []byte{5, 1, 0, 5, 1, 0, 3, byte(len(name))}
	msg = append(msg, name...)
	msg = binary.BigEndian.AppendUint16(msg, uint16(p))
	c.Write(msg)
	r := make([]byte, 12)
	if _, err := io.ReadFull(c, r); err != nil {
		return err
	}
	fmt.Printf("socks-reply: %d\n", r[3])
	return nil
}

// header sends a CONNECT with n bytes of header and reports the status (or that it was all
// taken).
func header(n string) error {
	size, _ := strconv.Atoi(n)
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	sent := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.WriteString(c, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n")
		line := []byte("X-Fill: " + strings.Repeat("a", 4086) + "\r\n")
		for sent < size {
			if _, err := c.Write(line); err != nil {
				return
			}
			sent += len(line)
		}
		io.WriteString(c, "\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Printf("status: none (%v)\n", err)
		return nil
	}
	c.Close()
	<-done
	fmt.Printf("status: %d\nsent: %d\n", resp.StatusCode, sent)
	return nil
}

// conns opens n connections that each start a request header and never end it, and counts
// those the proxy closed within a few seconds.
func conns(n string) error {
	k, _ := strconv.Atoi(n)
	var cs []net.Conn
	refused := 0
	for i := 0; i < k; i++ {
		c, err := net.Dial("tcp", proxy)
		if err != nil {
			refused++
			continue
		}
		io.WriteString(c, "CONNECT example.com:443 HTTP/1.1\r\nX-Fill: "+strings.Repeat("a", 60000))
		cs = append(cs, c)
	}
	time.Sleep(2 * time.Second)
	closed := 0
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !os.IsTimeout(err) {
			closed++
		}
	}
	fmt.Printf("open: %d\nclosed: %d\n", len(cs)-closed, closed+refused)
	os.Stdout.Sync()
	if os.Getenv("HOLD") != "" {
		time.Sleep(5 * time.Second) // the test measures the host side meanwhile
	}
	return nil
}

func tlsThroughProxy(u string) (net.Conn, string, string, error) {
	rest := strings.TrimPrefix(u, "https://")
	hostport, path, _ := strings.Cut(rest, "/")
	host := hostport
	if !strings.Contains(hostport, ":") {
		hostport += ":443"
	} else {
		host, _, _ = net.SplitHostPort(hostport)
	}
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		return nil, "", "", err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", hostport, hostport)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, "", "", err
	}
	if resp.StatusCode != 200 {
		return nil, "", "", fmt.Errorf("CONNECT: %s", resp.Status)
	}
	roots := x509.NewCertPool()
	b, _ := os.ReadFile(os.Getenv("SSL_CERT_FILE"))
	roots.AppendCertsFromPEM(b)
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}})
	if err := tc.Handshake(); err != nil {
		return nil, "", "", err
	}
	fmt.Printf("alpn: %q\n", tc.ConnectionState().NegotiatedProtocol)
	return tc, hostport, "/" + path, nil
}

var ph = func() string {
	if p := os.Getenv("PH"); p != "" {
		return p
	}
	return "paddock-placeholder-anthropic"
}()

// get sends one request with the placeholder in the auth header, another header and the query,
// and prints the whole answer.
func get(u, host string) error {
	tc, hostport, path, err := tlsThroughProxy(u)
	if err != nil {
		return err
	}
	defer tc.Close()
	if host == "" {
		host = hostport
	}
	if strings.Contains(path, "?") {
		path += "&key=" + ph
	} else {
		path += "?key=" + ph
	}
	fmt.Fprintf(tc, "GET %s HTTP/1.1\r\nHost: %s\r\nx-api-key: %s\r\nAuthorization: Bearer %s\r\nX-Other: %s\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", path, host, ph, ph, ph)
	b, err := io.ReadAll(tc)
	fmt.Printf("response: %q\n", b)
	if err != nil && len(b) == 0 {
		return err
	}
	return nil
}

// ws opens a WebSocket and prints the first frame's payload.
func ws(u string) error {
	tc, hostport, path, err := tlsThroughProxy(u)
	if err != nil {
		return err
	}
	defer tc.Close()
	k := make([]byte, 16)
	rand.Read(k)
	fmt.Fprintf(tc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\nx-api-key: %s\r\n\r\n",
		path, hostport, base64.StdEncoding.EncodeToString(k), ph)
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	fmt.Printf("ws-status: %d\nws-extensions: %q\n", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Extensions"))
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		io.ReadFull(br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return err
	}
	fmt.Printf("ws-frame: %q\n", p)
	return nil
}

// plain fetches an http:// URL through the proxy as an HTTP proxy client does, and prints the
// status and the body.
func plain(u string) error {
	c, err := net.DialTimeout("tcp", proxy, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", u, strings.SplitN(strings.TrimPrefix(u, "http://"), "/", 2)[0])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	fmt.Printf("status: %q\nbody: %q\n", strconv.Itoa(resp.StatusCode), b)
	return nil
}
