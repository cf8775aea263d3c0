package egress

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"golang.org/x/net/proxy"
)

// ConnectMain is `paddock __egress-connect HOST PORT`, run inside a sandbox as ssh's
// ProxyCommand: it opens a SOCKS5 connection through the egress proxy
// ($PADDOCK_EGRESS_PROXY, default 127.0.0.1:DefaultPort) and relays it to stdin and stdout.
func ConnectMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: paddock __egress-connect HOST PORT")
		return 2
	}
	addr := os.Getenv("PADDOCK_EGRESS_PROXY")
	if addr == "" {
		addr = "127.0.0.1:" + strconv.Itoa(DefaultPort)
	}
	d, err := proxy.SOCKS5("tcp", addr, nil, proxy.Direct)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paddock:", err)
		return 1
	}
	c, err := d.Dial("tcp", net.JoinHostPort(args[0], args[1]))
	if err != nil {
		fmt.Fprintf(os.Stderr, "paddock: %s:%s through the egress proxy: %v (see `paddock policy log`)\n", args[0], args[1], err)
		return 1
	}
	defer c.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(c, os.Stdin)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		close(done)
	}()
	io.Copy(os.Stdout, c)
	return 0
}
