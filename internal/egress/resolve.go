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

// resolve returns the addresses of host at port, and whether they came from the hosts map.
func (r *resolver) resolve(ctx context.Context, host string, port int) ([]netip.AddrPort, bool, error) {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), uint16(port))}, false, nil
	}
	if m := r.hostsMap(); m != nil {
		if to, ok := m[host+":"+strconv.Itoa(port)]; ok {
			ap, err := netip.ParseAddrPort(to)
			if err != nil {
				return nil, false, fmt.Errorf("%s: bad entry %q for %s:%d", r.hostsFile, to, host, port)
			}
			return []netip.AddrPort{ap}, true, nil
		}
		if to, ok := m[host]; ok {
			a, err := netip.ParseAddr(to)
			if err != nil {
				return nil, false, fmt.Errorf("%s: bad entry %q for %s", r.hostsFile, to, host)
			}
			return []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), uint16(port))}, true, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := r.lookup(ctx, host)
	if err != nil {
		return nil, false, err
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
	}
	return out, false, nil
}
