package egress

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HostsEnv names a file that overrides the proxy's resolver, for tests and offline use: lines
// "name addr" send every port of name to addr; "name:port addr:port" sends one port to another
// address and port. Addresses given there are trusted (they skip the special-range check, as if
// a rule named them); rules still decide whether the name is allowed. '#' starts a comment.
const HostsEnv = "PADDOCK_EGRESS_HOSTS"

// resolver turns a name into the addresses the proxy may dial.
type resolver struct {
	hostsFile string
	lookup    func(ctx context.Context, name string) ([]netip.Addr, error)

	mu    sync.Mutex
	stamp string
	hosts map[string]string // "name" or "name:port" -> "addr" or "addr:port"
}

func newResolver(hostsFile string) *resolver {
	return &resolver{hostsFile: hostsFile, lookup: func(ctx context.Context, name string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
	}}
}

func (r *resolver) hostsMap() map[string]string {
	if r.hostsFile == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp := fileStamp(r.hostsFile)
	if stamp == r.stamp && r.hosts != nil {
		return r.hosts
	}
	m := map[string]string{}
	if f, err := os.Open(r.hostsFile); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			fs := strings.Fields(line)
			if len(fs) >= 2 {
				m[strings.ToLower(fs[0])] = fs[1]
			}
		}
		f.Close()
	}
	r.hosts, r.stamp = m, stamp
	return m
}

// mapped reports whether the hosts map names host (at port): resolving it asks no one.
func (r *resolver) mapped(host string, port int) bool {
	m := r.hostsMap()
	if m == nil {
		return false
	}
	_, a := m[host+":"+strconv.Itoa(port)]
	_, b := m[host]
	return a || b
}

// resolve returns the addresses of host at port, whether they came from the hosts map, and
// whether it asked the host's resolver (DNS).
func (r *resolver) resolve(ctx context.Context, host string, port int) (addrs []netip.AddrPort, trusted, looked bool, err error) {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), uint16(port))}, false, false, nil
	}
	if host == HostServices {
		// The host's own loopback: asked for by name in a rule (Proxy.decide), never by a
		// range or a wildcard.
		return []netip.AddrPort{netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(port)),
			netip.AddrPortFrom(netip.IPv6Loopback(), uint16(port))}, true, false, nil
	}
	if m := r.hostsMap(); m != nil {
		// The errors name no path: they reach the sandbox in the proxy's answers.
		if to, ok := m[host+":"+strconv.Itoa(port)]; ok {
			ap, err := netip.ParseAddrPort(to)
			if err != nil {
				return nil, false, false, fmt.Errorf("bad entry %q for %s:%d in the egress hosts file", to, host, port)
			}
			return []netip.AddrPort{ap}, true, false, nil
		}
		if to, ok := m[host]; ok {
			a, err := netip.ParseAddr(to)
			if err != nil {
				return nil, false, false, fmt.Errorf("bad entry %q for %s in the egress hosts file", to, host)
			}
			return []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), uint16(port))}, true, false, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	as, err := r.lookup(ctx, host)
	if err != nil {
		return nil, false, true, err
	}
	out := make([]netip.AddrPort, 0, len(as))
	for _, a := range as {
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
	}
	return out, false, true, nil
}
