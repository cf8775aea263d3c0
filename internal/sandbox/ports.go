package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/store"
)

// Published ports (-p, paddock port): a listener on the host for each, whose connections reach
// the port on the sandbox's loopback; the sandbox gets no network interface for it.

// ParsePort reads -p's [HOSTADDR:]HOSTPORT[:PORT]: PORT defaults to HOSTPORT, HOSTADDR to
// 127.0.0.1 (an IPv6 address in brackets: [::1]:8080:80).
func ParsePort(spec string) (backend.Port, error) {
	bad := func(why string) (backend.Port, error) {
		return backend.Port{}, badInput("-p %q: %s (give [HOSTADDR:]HOSTPORT[:PORT], e.g. 3000, 8080:80 or 0.0.0.0:3000)", spec, why)
	}
	p := backend.Port{HostIP: "127.0.0.1"}
	rest := spec
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || len(rest) == end+1 || rest[end+1] != ':' {
			return bad("an address in brackets is followed by :HOSTPORT")
		}
		p.HostIP, rest = rest[1:end], rest[end+2:]
	}
	parts := strings.Split(rest, ":")
	if !strings.HasPrefix(spec, "[") {
		// Three parts, or two whose first is an address (0.0.0.0:3000): HOSTADDR first.
		if _, err := netip.ParseAddr(parts[0]); len(parts) == 3 || (len(parts) == 2 && err == nil) {
			p.HostIP, parts = parts[0], parts[1:]
		}
	}
	if len(parts) > 2 || len(parts) == 0 {
		return bad("too many parts")
	}
	if a, err := netip.ParseAddr(p.HostIP); err != nil || a.Zone() != "" {
		return bad(fmt.Sprintf("%q is not an IP address", p.HostIP))
	}
	num := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 1 && n <= 65535 && s == strconv.Itoa(n)
	}
	var ok bool
	if p.HostPort, ok = num(parts[0]); !ok {
		return bad(fmt.Sprintf("%q is not a port (1-65535)", parts[0]))
	}
	p.Port = p.HostPort
	if len(parts) == 2 {
		if p.Port, ok = num(parts[1]); !ok {
			return bad(fmt.Sprintf("%q is not a port (1-65535)", parts[1]))
		}
	}
	return p, nil
}

func (m *Manager) portForwarder(be backend.Backend) (backend.PortForwarder, error) {
	pf, ok := be.(backend.PortForwarder)
	if !ok {
		return nil, badInput("-p: publishing ports is not supported on the %s backend yet", be.Name())
	}
	return pf, nil
}

// samePort: two published ports listen on the same host address (one of them a wildcard on
// the same port and family counts too).
func samePort(a, b backend.Port) bool {
	if a.HostPort != b.HostPort {
		return false
	}
	x, y := netip.MustParseAddr(a.HostIP), netip.MustParseAddr(b.HostIP)
	return x == y || ((x.IsUnspecified() || y.IsUnspecified()) && x.Is4() == y.Is4())
}

// Publish adds ports to rec's published ports: at once if it runs (a host address in use is
// an error), at its next start otherwise (checked now all the same).
func (m *Manager) Publish(ctx context.Context, rec *store.Record, ports ...backend.Port) error {
	pf, err := m.portForwarder(m.For(rec))
	if err != nil {
		return err
	}
	unlock, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if fresh, err := m.Store.Resolve(rec.ID); err == nil {
		*rec = *fresh
	}
	var added []backend.Port
	for _, p := range ports {
		i := slices.IndexFunc(rec.Spec.Ports, func(q backend.Port) bool { return samePort(p, q) })
		switch {
		case i >= 0 && rec.Spec.Ports[i] == p:
			continue // published already
		case i >= 0:
			return badInput("host port %s already goes to port %d of sandbox %s: paddock port unpublish %s %s first",
				rec.Spec.Ports[i].HostAddr(), rec.Spec.Ports[i].Port, rec.Name, rec.Name, rec.Spec.Ports[i].HostAddr())
		}
		err := pf.Publish(ctx, m.Sandbox(rec), p)
		if errors.Is(err, backend.ErrNotRunning) {
			// Not running: the port is taken at its next start; say now if it would fail.
			var ln net.Listener
			if ln, err = net.Listen("tcp", p.HostAddr()); err == nil {
				ln.Close()
			} else {
				err = fmt.Errorf("%w: port %s: %v", backend.ErrPortInUse, p.HostAddr(), errors.Unwrap(err))
			}
		}
		if err != nil {
			for _, a := range added {
				pf.Unpublish(ctx, m.Sandbox(rec), a)
			}
			return fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		added = append(added, p)
	}
	if len(added) == 0 {
		return nil
	}
	rec.Spec.Ports = append(rec.Spec.Ports, added...)
	return m.Store.Save(rec)
}

// Unpublish removes ports from rec's published ports (matched by host address).
func (m *Manager) Unpublish(ctx context.Context, rec *store.Record, ports ...backend.Port) error {
	pf, err := m.portForwarder(m.For(rec))
	if err != nil {
		return err
	}
	unlock, err := m.Store.LockSandbox(rec.ID)
	if err != nil {
		return err
	}
	defer unlock()
	if fresh, err := m.Store.Resolve(rec.ID); err == nil {
		*rec = *fresh
	}
	for _, p := range ports {
		i := slices.IndexFunc(rec.Spec.Ports, func(q backend.Port) bool { return samePort(p, q) && p.HostIP == q.HostIP })
		if i < 0 {
			return badInput("sandbox %s does not publish %s (see paddock port ls %s)", rec.Name, p.HostAddr(), rec.Name)
		}
		q := rec.Spec.Ports[i]
		if err := pf.Unpublish(ctx, m.Sandbox(rec), q); err != nil && !errors.Is(err, backend.ErrNotRunning) {
			return err
		}
		rec.Spec.Ports = slices.Delete(rec.Spec.Ports, i, i+1)
	}
	return m.Store.Save(rec)
}

// Port is a published port (-p, paddock port).
type Port = backend.Port
