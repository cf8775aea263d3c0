package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrBadRule is the category of a rule that does not parse.
var ErrBadRule = errors.New("bad rule")

// Presets, from tightest to loosest.
const (
	Locked   = "locked"   // nothing but what the user allows
	Balanced = "balanced" // the agents' APIs, package registries and git hosts (default)
	Open     = "open"     // every public address; private ranges only when a rule names them
)

// Presets lists the preset names.
var Presets = []string{Locked, Balanced, Open}

// DefaultPreset is the preset of a sandbox created without --network.
const DefaultPreset = Balanced

// CheckPreset reports whether p names a preset.
func CheckPreset(p string) error {
	if slices.Contains(Presets, p) {
		return nil
	}
	return fmt.Errorf("%w: unknown network preset %q: choose %s", ErrBadRule, p, strings.Join(Presets, ", "))
}

// Rule is one line of a policy: a host pattern or an address range, optionally one port.
type Rule struct {
	// Exactly one of Host and Prefix is set. Host is a lower-case name, "*.domain" (any name
	// below domain, not domain itself) or "*" (any name).
	Host   string
	Prefix netip.Prefix
	Port   int // 0: any port
}

// ParseRule parses exact host, *.domain, CIDR or IP, each with an optional :port
// (IPv6 as [addr]:port or [prefix]:port).
func ParseRule(s string) (Rule, error) {
	orig := s
	s = strings.TrimSpace(strings.ToLower(s))
	bad := func(why string) (Rule, error) {
		return Rule{}, fmt.Errorf("%w %q: %s (give host, *.domain, an address or CIDR range, each with an optional :port)", ErrBadRule, orig, why)
	}
	if s == "" {
		return bad("empty")
	}
	if strings.Contains(s, "://") || strings.Contains(s, "/") && !strings.ContainsAny(s, ".:") {
		return bad("not a URL: give the host name alone")
	}
	host, port := s, 0
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return bad("missing ]")
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return bad("unexpected text after ]")
			}
			n, err := parsePort(p)
			if err != nil {
				return bad(err.Error())
			}
			port = n
		}
	} else if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		n, err := parsePort(p)
		if err != nil {
			return bad(err.Error())
		}
		host, port = h, n
	}
	if strings.Contains(host, "/") {
		pfx, err := netip.ParsePrefix(host)
		if err != nil {
			return bad("not a CIDR range")
		}
		return Rule{Prefix: pfx.Masked(), Port: port}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return Rule{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: port}, nil
	}
	if strings.Contains(host, ":") {
		return bad("an IPv6 address goes in brackets with a port: [addr]:port")
	}
	if host == "*" {
		return Rule{Host: "*", Port: port}, nil
	}
	name := strings.TrimPrefix(host, "*.")
	if strings.Contains(name, "*") {
		return bad("a wildcard is only allowed as the first label (*.example.com)")
	}
	name = strings.TrimSuffix(name, ".")
	if !validName(name) {
		return bad("not a host name")
	}
	if strings.HasPrefix(host, "*.") {
		return Rule{Host: "*." + name, Port: port}, nil
	}
	if name == HostServices && port == 0 {
		return bad("name the port of the host's service: " + HostServices + ":5432")
	}
	return Rule{Host: name, Port: port}, nil
}

func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", p)
	}
	return n, nil
}

func validName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// String is the rule in the syntax ParseRule reads.
func (r Rule) String() string {
	var h string
	switch {
	case r.Host != "":
		h = r.Host
	case r.Prefix.IsSingleIP():
		h = r.Prefix.Addr().String()
		if r.Prefix.Addr().Is6() && r.Port != 0 {
			h = "[" + h + "]"
		}
	default:
		h = r.Prefix.String()
		if r.Prefix.Addr().Is6() && r.Port != 0 {
			h = "[" + h + "]"
		}
	}
	if r.Port != 0 {
		return h + ":" + strconv.Itoa(r.Port)
	}
	return h
}

// IsRange reports whether the rule names addresses rather than host names.
func (r Rule) IsRange() bool { return r.Host == "" }

// MatchName reports whether a host rule matches a name (lower case, no trailing dot) and port.
func (r Rule) MatchName(name string, port int) bool {
	if r.Host == "" || (r.Port != 0 && r.Port != port) {
		return false
	}
	switch {
	case r.Host == "*":
		return true
	case strings.HasPrefix(r.Host, "*."):
		return strings.HasSuffix(name, r.Host[1:])
	default:
		return name == r.Host
	}
}

// MatchAddr reports whether a range rule covers an address and port.
func (r Rule) MatchAddr(a netip.Addr, port int) bool {
	if r.Host != "" || (r.Port != 0 && r.Port != port) {
		return false
	}
	return r.Prefix.Contains(a.Unmap())
}

// Entry is a rule with its action and where it comes from.
type Entry struct {
	Rule   Rule
	Deny   bool
	Source string // "preset:NAME", "global" or "sandbox"
}

// Action is "allow" or "deny".
func (e Entry) Action() string {
	if e.Deny {
		return "deny"
	}
	return "allow"
}

// presetRules are the rules each preset starts with.
var presetRules = map[string][]string{
	Locked: nil,
	Open:   {"*"},
	Balanced: func() []string {
		var r []string
		https := []string{
			// The agents' APIs and their sign-in pages.
			"api.anthropic.com", "*.anthropic.com", "claude.ai", "*.claude.ai", "claude.com", "*.claude.com",
			"api.openai.com", "*.openai.com", "chatgpt.com", "*.chatgpt.com",
			"generativelanguage.googleapis.com", "cloudcode-pa.googleapis.com", "oauth2.googleapis.com",
			"aiplatform.googleapis.com", "us-central1-aiplatform.googleapis.com", "accounts.google.com", "www.googleapis.com",
			"opencode.ai", "*.opencode.ai", "models.dev", "openrouter.ai",
			// Package registries.
			"registry.npmjs.org", "*.npmjs.org", "registry.yarnpkg.com", "*.yarnpkg.com", "nodejs.org",
			"pypi.org", "*.pypi.org", "files.pythonhosted.org", "*.pythonhosted.org",
			"crates.io", "*.crates.io", "static.rust-lang.org", "sh.rustup.rs",
			"proxy.golang.org", "sum.golang.org", "index.golang.org", "go.dev", "golang.org", "dl.google.com",
			"rubygems.org", "*.rubygems.org", "repo.maven.apache.org", "repo1.maven.org", "plugins.gradle.org",
			"services.gradle.org", "jsr.io", "deno.land", "*.deno.land", "bun.sh", "registry.bun.sh",
			"deb.debian.org", "security.debian.org", "*.debian.org", "archive.ubuntu.com", "security.ubuntu.com",
			"ports.ubuntu.com", "*.archive.ubuntu.com", "ppa.launchpadcontent.net",
			// Git hosts.
			"github.com", "*.github.com", "*.githubusercontent.com", "codeload.github.com",
			"gitlab.com", "*.gitlab.com", "bitbucket.org", "*.bitbucket.org", "codeberg.org", "git.sr.ht",
		}
		for _, h := range https {
			r = append(r, h+":443")
		}
		// Debian and Ubuntu mirrors are plain HTTP (packages are signed).
		for _, h := range []string{"deb.debian.org", "security.debian.org", "*.debian.org", "archive.ubuntu.com",
			"security.ubuntu.com", "ports.ubuntu.com", "*.archive.ubuntu.com"} {
			r = append(r, h+":80")
		}
		// git over ssh.
		for _, h := range []string{"github.com", "ssh.github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "git.sr.ht"} {
			r = append(r, h+":22")
		}
		return append(r, "ssh.github.com:443")
	}(),
}

// PresetEntries returns a preset's rules.
func PresetEntries(preset string) []Entry {
	var out []Entry
	for _, s := range presetRules[preset] {
		r, err := ParseRule(s)
		if err != nil {
			panic(err)
		}
		out = append(out, Entry{Rule: r, Source: "preset:" + preset})
	}
	return out
}

// Decision is the verdict on one connection.
type Decision struct {
	Allow  bool
	Rule   string // the rule that decided, "" when none did
	Source string // where that rule comes from
	Reason string // why a connection was refused
	// Addrs are the addresses the proxy may dial (allowed only); Direct: dialed from the host
	// itself, never through an upstream proxy (host.paddock.internal).
	Addrs  []netip.AddrPort
	Direct bool
	// Looked: the proxy asked the host's resolver (DNS) for the name; Resolved is its answer.
	Looked   bool
	Resolved []string
	// Refused are the addresses of an allowed name that are in a special range no rule names:
	// what a rule must name for the connection to go (see AllowHint).
	Refused []netip.Addr
	// Unresolved: a rule allows the name but it did not resolve (the upstream cannot be found,
	// nothing to allow); Temporary: for want of an answer, not because the name does not exist.
	Unresolved, Temporary bool
}

// Policy is the rules in force for one sandbox.
type Policy struct {
	Preset  string
	Entries []Entry // preset, global, then sandbox rules
}

// Decide judges a connection to host (a name or an address literal) and port: a deny rule that
// matches wins; then an allow rule must match the name (or, for a range rule, each address);
// then each resolved address in a special range (loopback, private, link-local, metadata, the
// host's own) needs an allow rule naming its range. addrs are what host resolved to; trusted
// addresses (from the test hosts map) skip the special-range check.
func (p *Policy) Decide(host string, port int, addrs []netip.AddrPort, trusted bool, special func(netip.Addr) string) Decision {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	lit, err := netip.ParseAddr(strings.Trim(name, "[]"))
	isLit := err == nil
	for _, e := range p.Entries {
		if !e.Deny {
			continue
		}
		if !isLit && e.Rule.MatchName(name, port) {
			return Decision{Rule: e.Rule.String(), Source: e.Source, Reason: "denied by rule " + e.Rule.String()}
		}
		for _, a := range addrs {
			if e.Rule.MatchAddr(a.Addr(), port) {
				return Decision{Rule: e.Rule.String(), Source: e.Source, Reason: "denied by rule " + e.Rule.String() + " (" + a.Addr().String() + ")"}
			}
		}
	}
	var by *Entry
	if !isLit {
		for i, e := range p.Entries {
			if !e.Deny && e.Rule.MatchName(name, port) {
				by = &p.Entries[i]
				break
			}
		}
	}
	rangeRule := func(a netip.Addr) *Entry {
		for i, e := range p.Entries {
			if !e.Deny && e.Rule.MatchAddr(a, port) {
				return &p.Entries[i]
			}
		}
		return nil
	}
	if by == nil && isLit {
		// An address literal is allowed by a range rule, or by "*" (open) for a public address.
		if r := rangeRule(lit.Unmap()); r != nil {
			by = r
		} else {
			for i, e := range p.Entries {
				if !e.Deny && e.Rule.Host == "*" && e.Rule.MatchName("", port) {
					by = &p.Entries[i]
					break
				}
			}
		}
	}
	if by == nil && len(addrs) > 0 {
		// A name no host rule names is allowed when range rules cover every address it has.
		var first *Entry
		all := true
		for _, a := range addrs {
			r := rangeRule(a.Addr())
			if r == nil {
				all = false
				break
			}
			if first == nil {
				first = r
			}
		}
		if all {
			by = first
		}
	}
	if by == nil {
		return Decision{Reason: "no rule allows " + hostPort(name, port)}
	}
	d := Decision{Allow: true, Rule: by.Rule.String(), Source: by.Source}
	var refused []string
	for _, a := range addrs {
		if !trusted && special != nil {
			if kind := special(a.Addr()); kind != "" && rangeRule(a.Addr()) == nil {
				refused = append(refused, a.Addr().String()+" is "+kind)
				d.Refused = append(d.Refused, a.Addr())
				continue
			}
		}
		d.Addrs = append(d.Addrs, a)
	}
	if len(d.Addrs) == 0 {
		d.Allow = false
		if len(refused) > 0 {
			d.Reason = strings.Join(refused, ", ") + "; no rule names that range"
		} else {
			d.Reason = "no address for " + name
		}
	}
	return d
}

func hostPort(h string, port int) string {
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(port)
}

// Special ranges: addresses a sandbox never reaches unless a rule names their range.
var specialRanges = []struct {
	pfx  netip.Prefix
	kind string
}{
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "private (carrier-grade NAT)"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.0.2.0/24"), "reserved (documentation)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "reserved (documentation)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "reserved (documentation)"},
	{netip.MustParsePrefix("2001:db8::/32"), "reserved (documentation)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
}

// SpecialKind names the special range an address is in ("" for an ordinary public address).
// The host's own interface addresses count as "this host's address".
func SpecialKind(a netip.Addr) string {
	a = a.Unmap()
	for _, s := range specialRanges {
		if s.pfx.Contains(a) {
			return s.kind
		}
	}
	if hostAddrs()[a] {
		return "this host's address"
	}
	return ""
}

var hostAddrCache struct {
	sync.Mutex
	at time.Time
	m  map[netip.Addr]bool
}

// hostAddrs are the host's interface addresses, looked up at most once a second.
func hostAddrs() map[netip.Addr]bool {
	c := &hostAddrCache
	c.Lock()
	defer c.Unlock()
	if c.m != nil && time.Since(c.at) < time.Second {
		return c.m
	}
	m := map[netip.Addr]bool{}
	defer func() { c.m, c.at = m, time.Now() }()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				m[ip.Unmap()] = true
			}
		}
	}
	return m
}
