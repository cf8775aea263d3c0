package egress

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The proxy's own cost, in one process on loopback (bench/egress.sh measures it with curl from a
// sandbox): a new HTTPS connection and one request, direct and through CONNECT.
func BenchmarkHTTPSConnection(b *testing.B) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	addr := srv.Listener.Addr().String()
	f := newFixture(b, Locked, "bench.test:443 "+addr)
	f.allow(false, "bench.test:443")
	get := func(b *testing.B, c net.Conn) {
		tc := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "example.com"})
		fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n")
		out, err := io.ReadAll(tc)
		if err != nil || !strings.HasSuffix(string(out), "ok") {
			b.Fatalf("%q %v", out, err)
		}
		tc.Close()
	}
	b.Run("direct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			get(b, c)
		}
	})
	b.Run("proxy", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				b.Fatal(err)
			}
			io.WriteString(c, "CONNECT bench.test:443 HTTP/1.1\r\nHost: bench.test:443\r\n\r\n")
			var buf [39]byte // "HTTP/1.1 200 Connection established\r\n\r\n"
			if _, err := io.ReadFull(c, buf[:]); err != nil || !strings.HasPrefix(string(buf[:]), "HTTP/1.1 200") {
				b.Fatalf("%q %v", buf, err)
			}
			get(b, c)
		}
	})
}

// Bulk transfer over plain TCP, direct and through a CONNECT tunnel (MB/s is what counts).
func BenchmarkBulk(b *testing.B) {
	const size = 64 << 20
	src, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	go func() {
		chunk := make([]byte, 1<<20)
		for {
			c, err := src.Accept()
			if err != nil {
				return
			}
			go func() {
				for n := 0; n < size; n += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(src.Addr().String())
	f := newFixture(b, Locked, "bulk.test:443 127.0.0.1:"+port)
	f.allow(false, "bulk.test:443")
	read := func(b *testing.B, c net.Conn) {
		n, err := io.Copy(io.Discard, c)
		if err != nil || n != size {
			b.Fatalf("%d %v", n, err)
		}
		c.Close()
	}
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			c, err := net.Dial("tcp", src.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			read(b, c)
		}
	})
	b.Run("proxy", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				b.Fatal(err)
			}
			io.WriteString(c, "CONNECT bulk.test:443 HTTP/1.1\r\nHost: bulk.test:443\r\n\r\n")
			var buf [39]byte
			if _, err := io.ReadFull(c, buf[:]); err != nil {
				b.Fatal(err)
			}
			read(b, c)
		}
	})
}
