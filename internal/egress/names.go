package egress

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrBadHost is the category of a host name the proxy refuses to look at: it came from a
// sandbox (SOCKS5, CONNECT, a Host header) and is not a DNS name or an address.
var ErrBadHost = errors.New("not a valid host name")

// maxHostInput bounds what the proxy reads as a name before judging it.
const maxHostInput = 1024

// CleanHost is the canonical form of a host name or address given by a sandbox: lower case,
// no trailing dot, no brackets; a name in Unicode becomes its IDNA (punycode) form. Anything
// else (control characters, spaces, shell or terminal syntax, an IPv6 zone, a label too long)
// is refused with ErrBadHost, so that no name the proxy logs, prints or resolves carries more
// than letters, digits, '-', '_' and '.'.
func CleanHost(h string) (string, error) {
	if len(h) > maxHostInput {
		return "", ErrBadHost
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if strings.ContainsRune(h, ':') {
		// Only an IPv6 address has a colon, and never a zone (it names this host's interfaces).
		a, err := netip.ParseAddr(h)
		if err != nil || a.Zone() != "" {
			return "", ErrBadHost
		}
		return a.Unmap().String(), nil
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String(), nil
	}
	ascii := true
	for i := 0; i < len(h); i++ {
		if h[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		if !utf8.ValidString(h) {
			return "", ErrBadHost
		}
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", ErrBadHost
		}
		h = strings.TrimSuffix(a, ".")
	}
	if !validName(h) {
		return "", ErrBadHost
	}
	return h, nil
}

// Printable is s as it may reach a terminal or a log line: a string with a control character,
// invalid UTF-8 or a backslash is shown Go-quoted (escaped), anything else as it is.
func Printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' || r == utf8.RuneError || (r >= 0x80 && r < 0xa0) ||
			r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}

// ShellQuote quotes s for a POSIX shell when it holds anything but characters no shell treats
// specially.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
