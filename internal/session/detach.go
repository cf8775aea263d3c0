package session

import (
	"fmt"
	"strings"
)

// DefaultDetachKeys is the key sequence that leaves an attached session running, as docker's.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys reads a detach sequence written as docker writes it: comma-separated keys,
// each a single character or ctrl-X (X a letter or one of @[\]^_). "" is the default.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = DefaultDetachKeys
	}
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case strings.HasPrefix(strings.ToLower(k), "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				keys = append(keys, c-'@')
			default:
				return nil, fmt.Errorf("detach keys %q: %q is not a key (use a character or ctrl-LETTER)", s, k)
			}
		default:
			return nil, fmt.Errorf("detach keys %q: %q is not a key (use a character or ctrl-LETTER, comma-separated)", s, k)
		}
	}
	return keys, nil
}

// detacher finds the detach sequence in what the user types: bytes that could begin it are
// held back until it is clear whether they do.
type detacher struct {
	keys []byte
	held int // how many of keys have been matched (and held back)
}

// feed returns what to pass on from p and whether the sequence was completed (what followed it
// is dropped).
func (d *detacher) feed(p []byte) ([]byte, bool) {
	if len(d.keys) == 0 {
		return p, false
	}
	out := make([]byte, 0, len(p)+d.held)
	for _, c := range p {
		if c == d.keys[d.held] {
			d.held++
			if d.held == len(d.keys) {
				return out, true
			}
			continue
		}
		// Not the sequence: what was held goes through, and this byte may begin it anew.
		out = append(out, d.keys[:d.held]...)
		d.held = 0
		if c == d.keys[0] {
			d.held = 1
			if len(d.keys) == 1 {
				return out, true
			}
			continue
		}
		out = append(out, c)
	}
	return out, false
}
