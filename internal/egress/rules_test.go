package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      string
	}{
		{"api.example.com", "api.example.com", ""},
		{"API.Example.COM.", "api.example.com", ""},
		{"*.pypi.org", "*.pypi.org", ""},
		{"*.pypi.org:443", "*.pypi.org:443", ""},
		{"example.com:8080", "example.com:8080", ""},
		{"10.0.0.0/8:5432", "10.0.0.0/8:5432", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"192.168.1.5", "192.168.1.5", ""},
		{"192.168.1.5:22", "192.168.1.5:22", ""},
		{"[::1]:443", "[::1]:443", ""},
		{"fd00::/8", "fd00::/8", ""},
		{"[fd00::/8]:53", "[fd00::/8]:53", ""},
		{"*", "*", ""},
		{"*:443", "*:443", ""},
		{"", "", "empty"},
		{"https://example.com", "", "not a URL"},
		{"example.com:0", "", "port"},
		{"example.com:99999", "", "port"},
		{"example.com:http", "", "port"},
		{"ex*mple.com", "", "wildcard"},
		{"a.*.com", "", "wildcard"},
		{"exa mple.com", "", "not a host name"},
		{"10.0.0.0/33", "", "CIDR"},
		{"::1", "::1", ""},
		{"-bad.com", "", "not a host name"},
	} {
		r, err := ParseRule(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrBadRule) {
				t.Errorf("ParseRule(%q) = %v, %v; want error with %q", tc.in, r, err, tc.err)
			}
			continue
		}
		if err != nil || r.String() != tc.want {
			t.Errorf("ParseRule(%q) = %q, %v; want %q", tc.in, r.String(), err, tc.want)
			continue
		}
		if r2, err := ParseRule(r.String()); err != nil || r2 != r {
			t.Errorf("round trip of %q: %v %v", tc.in, r2, err)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		rule, host string
		port       int
		want       bool
	}{
		{"example.com", "example.com", 443, true},
		{"example.com", "example.com", 8080, true},
		{"example.com", "www.example.com", 443, false},
		{"example.com:443", "example.com", 80, false},
		{"*.example.com", "www.example.com", 443, true},
		{"*.example.com", "a.b.example.com", 443, true},
		{"*.example.com", "example.com", 443, false},
		{"*.example.com", "badexample.com", 443, false},
		{"*", "anything.org", 1, true},
		{"*:443", "anything.org", 80, false},
	} {
		r, err := ParseRule(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.MatchName(tc.host, tc.port); got != tc.want {
			t.Errorf("%s matches %s:%d = %v, want %v", tc.rule, tc.host, tc.port, got, tc.want)
		}
	}
	r, _ := ParseRule("10.0.0.0/8:5432")
	if !r.MatchAddr(netip.MustParseAddr("10.9.8.7"), 5432) || r.MatchAddr(netip.MustParseAddr("10.9.8.7"), 5433) ||
		r.MatchAddr(netip.MustParseAddr("11.0.0.1"), 5432) || !r.MatchAddr(netip.MustParseAddr("::ffff:10.0.0.1"), 5432) {
		t.Error("CIDR matching")
	}
}

func ap(s string, port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(s), uint16(port))
}

func policyOf(t *testing.T, preset string, rules ...string) *Policy {
	t.Helper()
	p := &Policy{Preset: preset, Entries: PresetEntries(preset)}
	for _, s := range rules {
		deny := strings.HasPrefix(s, "!")
		r, err := ParseRule(strings.TrimPrefix(s, "!"))
		if err != nil {
			t.Fatal(err)
		}
		p.Entries = append(p.Entries, Entry{Rule: r, Deny: deny, Source: "sandbox"})
	}
	return p
}

func TestDecide(t *testing.T) {
	pub := "93.184.215.14"
	for _, tc := range []struct {
		name   string
		preset string
		rules  []string
		host   string
		port   int
		addrs  []netip.AddrPort
		want   bool
		why    string
	}{
		{"balanced allows the Anthropic API", Balanced, nil, "api.anthropic.com", 443, []netip.AddrPort{ap(pub, 443)}, true, "api.anthropic.com:443"},
		{"balanced allows npm", Balanced, nil, "registry.npmjs.org", 443, []netip.AddrPort{ap(pub, 443)}, true, "registry.npmjs.org:443"},
		{"balanced allows github over ssh", Balanced, nil, "github.com", 22, []netip.AddrPort{ap(pub, 22)}, true, "github.com:22"},
		{"balanced refuses other ports", Balanced, nil, "api.anthropic.com", 8443, []netip.AddrPort{ap(pub, 8443)}, false, "no rule allows"},
		{"balanced refuses other hosts", Balanced, nil, "example.org", 443, []netip.AddrPort{ap(pub, 443)}, false, "no rule allows"},
		{"locked refuses the API", Locked, nil, "api.anthropic.com", 443, []netip.AddrPort{ap(pub, 443)}, false, "no rule allows"},
		{"locked with a rule", Locked, []string{"example.org"}, "example.org", 443, []netip.AddrPort{ap(pub, 443)}, true, "example.org"},
		{"open allows public hosts", Open, nil, "example.org", 8080, []netip.AddrPort{ap(pub, 8080)}, true, "*"},
		{"open allows public literals", Open, nil, pub, 443, []netip.AddrPort{ap(pub, 443)}, true, "*"},
		{"open refuses loopback", Open, nil, "localhost", 80, []netip.AddrPort{ap("127.0.0.1", 80)}, false, "loopback"},
		{"open refuses a loopback literal", Open, nil, "127.0.0.1", 80, []netip.AddrPort{ap("127.0.0.1", 80)}, false, "loopback"},
		{"open refuses private", Open, nil, "db.internal", 5432, []netip.AddrPort{ap("10.1.2.3", 5432)}, false, "private"},
		{"open refuses metadata", Open, nil, "169.254.169.254", 80, []netip.AddrPort{ap("169.254.169.254", 80)}, false, "cloud metadata"},
		{"open refuses IPv6 loopback", Open, nil, "::1", 80, []netip.AddrPort{ap("::1", 80)}, false, "loopback"},
		{"open refuses link-local IPv6", Open, nil, "fe80::1", 80, []netip.AddrPort{ap("fe80::1", 80)}, false, "link-local"},
		{"DNS rebinding of an allowed name", Balanced, nil, "api.anthropic.com", 443, []netip.AddrPort{ap("127.0.0.1", 443)}, false, "loopback"},
		{"rebinding keeps the public addresses", Balanced, nil, "api.anthropic.com", 443, []netip.AddrPort{ap("10.0.0.1", 443), ap(pub, 443)}, true, ""},
		{"a range rule names private addresses", Locked, []string{"10.0.0.0/8:5432"}, "db.internal", 5432, []netip.AddrPort{ap("10.1.2.3", 5432)}, true, "10.0.0.0/8:5432"},
		{"a range rule and a literal", Locked, []string{"10.0.0.0/8:5432"}, "10.1.2.3", 5432, []netip.AddrPort{ap("10.1.2.3", 5432)}, true, ""},
		{"a range rule's port", Locked, []string{"10.0.0.0/8:5432"}, "10.1.2.3", 22, []netip.AddrPort{ap("10.1.2.3", 22)}, false, "no rule"},
		{"host rule on a private address", Locked, []string{"db.internal"}, "db.internal", 5432, []netip.AddrPort{ap("10.1.2.3", 5432)}, false, "private"},
		{"host rule plus range rule", Locked, []string{"db.internal", "10.1.2.3"}, "db.internal", 5432, []netip.AddrPort{ap("10.1.2.3", 5432)}, true, ""},
		{"deny wins over preset", Balanced, []string{"!api.anthropic.com"}, "api.anthropic.com", 443, []netip.AddrPort{ap(pub, 443)}, false, "denied by rule"},
		{"deny wildcard wins over allow", Locked, []string{"x.example.com", "!*.example.com"}, "x.example.com", 443, []netip.AddrPort{ap(pub, 443)}, false, "denied"},
		{"deny range wins over name", Open, []string{"!" + pub}, "example.org", 443, []netip.AddrPort{ap(pub, 443)}, false, "denied"},
		{"no addresses", Balanced, nil, "github.com", 443, nil, false, "no address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := policyOf(t, tc.preset, tc.rules...)
			d := p.Decide(tc.host, tc.port, tc.addrs, false, SpecialKind)
			if d.Allow != tc.want {
				t.Fatalf("Decide = %+v, want allow=%v", d, tc.want)
			}
			got := d.Reason
			if d.Allow {
				got = d.Rule
			}
			if !strings.Contains(got, tc.why) {
				t.Fatalf("Decide = %+v, want %q", d, tc.why)
			}
			for _, a := range d.Addrs {
				if SpecialKind(a.Addr()) != "" && len(tc.rules) == 0 {
					t.Fatalf("dials special address %s", a)
				}
			}
		})
	}
	// Trusted (hosts map) addresses skip the special-range check, not the rules.
	p := policyOf(t, Balanced)
	if d := p.Decide("api.anthropic.com", 443, []netip.AddrPort{ap("127.0.0.1", 9999)}, true, SpecialKind); !d.Allow {
		t.Fatalf("trusted loopback: %+v", d)
	}
	if d := p.Decide("example.org", 443, []netip.AddrPort{ap("127.0.0.1", 9999)}, true, SpecialKind); d.Allow {
		t.Fatalf("trusted but not allowed: %+v", d)
	}
}

func TestSplitTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
	}{
		{"https://api.example.com/v1/x?y", "api.example.com", 443},
		{"http://example.com", "example.com", 80},
		{"http://example.com:8080/", "example.com", 8080},
		{"ssh://git@github.com/org/repo", "github.com", 22},
		{"example.com", "example.com", 443},
		{"example.com:5432", "example.com", 5432},
		{"https://[::1]:8443/", "::1", 8443},
	} {
		h, p, err := SplitTarget(tc.in)
		if err != nil || h != tc.host || p != tc.port {
			t.Errorf("SplitTarget(%q) = %q %d %v", tc.in, h, p, err)
		}
	}
	for _, bad := range []string{"ftp://x", "https://", "x:0"} {
		if _, _, err := SplitTarget(bad); err == nil {
			t.Errorf("SplitTarget(%q) accepted", bad)
		}
	}
}

func TestPresets(t *testing.T) {
	if len(PresetEntries(Locked)) != 0 {
		t.Fatal("locked has rules")
	}
	if err := CheckPreset("wide"); err == nil || !strings.Contains(err.Error(), "locked, balanced, open") {
		t.Fatal(err)
	}
	for _, h := range []string{"registry.npmjs.org", "pypi.org", "files.pythonhosted.org", "crates.io", "proxy.golang.org",
		"deb.debian.org", "archive.ubuntu.com", "github.com", "api.openai.com", "generativelanguage.googleapis.com"} {
		ok := false
		for _, e := range PresetEntries(Balanced) {
			ok = ok || e.Rule.MatchName(h, 443) || e.Rule.MatchName(h, 80)
		}
		if !ok {
			t.Errorf("balanced misses %s", h)
		}
	}
}
