package egress

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// host.paddock.internal reaches the host's loopback only at ports a rule names it for exactly:
// never through "*" (open), a wildcard or a range rule, never looked up in DNS, and a deny wins.
func TestHostServices(t *testing.T) {
	p := &Proxy{res: &resolver{lookup: func(ctx context.Context, name string) ([]netip.Addr, error) {
		t.Errorf("looked up %q", name)
		return nil, nil
	}}}
	policy := func(rules ...string) *Policy {
		pol := &Policy{}
		for _, s := range rules {
			deny := strings.HasPrefix(s, "!")
			r, err := ParseRule(strings.TrimPrefix(s, "!"))
			if err != nil {
				t.Fatal(err)
			}
			pol.Entries = append(pol.Entries, Entry{Rule: r, Deny: deny, Source: "test"})
		}
		return pol
	}
	for _, tc := range []struct {
		name  string
		rules []string
		port  int
		allow bool
	}{
		{"no rule", nil, 5432, false},
		{"open preset's *", []string{"*"}, 5432, false},
		{"a wildcard", []string{"*.internal", "*.paddock.internal"}, 5432, false},
		{"loopback range", []string{"127.0.0.0/8"}, 5432, false},
		{"named, that port", []string{"host.paddock.internal:5432"}, 5432, true},
		{"named, another port", []string{"host.paddock.internal:5432"}, 22, false},
		{"named and denied", []string{"host.paddock.internal:5432", "!host.paddock.internal:5432"}, 5432, false},
		{"denied by *", []string{"host.paddock.internal:5432", "!*"}, 5432, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.decide(context.Background(), policy(tc.rules...), "Host.Paddock.Internal.", tc.port)
			if d.Allow != tc.allow {
				t.Fatalf("%+v, want allow %v", d, tc.allow)
			}
			if d.Allow {
				if !d.Direct {
					t.Error("the host's services would be dialed through an upstream proxy")
				}
				for _, a := range d.Addrs {
					if !a.Addr().IsLoopback() || a.Port() != uint16(tc.port) {
						t.Errorf("dials %v", a)
					}
				}
			}
		})
	}
	if _, err := ParseRule("host.paddock.internal"); err == nil || !strings.Contains(err.Error(), "port") {
		t.Errorf("a rule for the host's services without a port: %v", err)
	}
}
