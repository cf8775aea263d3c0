// Command egresstool is the outside world of bench/egress.sh: an HTTPS server on 127.0.0.1 whose
// certificates come from the paddock installation's CA (PADDOCK_HOME/egress/ca), so that curl
// inside a sandbox trusts it through the sandbox's bundle and curl on the host with --cacert.
//
//	egresstool HOME      prints the port, then serves: / answers "ok", /bulk?mb=N streams N MiB
//
// A second line gives a port serving the same over plain HTTP (for clients without TLS).
package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/paddockhq/paddock/internal/egress"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: egresstool PADDOCK_HOME")
		os.Exit(2)
	}
	ca, err := egress.LoadOrCreateCA(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	chunk := make([]byte, 1<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/bulk", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		w.Header().Set("Content-Length", strconv.Itoa(mb<<20))
		for i := 0; i < mb; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(plain.Addr().(*net.TCPAddr).Port)
	go http.Serve(plain, mux)
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return ca.Leaf(h.ServerName)
	}}}
	fmt.Fprintln(os.Stderr, srv.ServeTLS(ln, "", ""))
}
