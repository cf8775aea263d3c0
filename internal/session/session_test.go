package session

import (
	"bytes"
	"strings"
	"testing"
)

// The ring keeps at least its size's worth of the latest output, in order, and at most one
// chunk more.
func TestRing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []int
	}{
		{"under", []int{3, 5}},
		{"one chunk exactly", []int{ringChunk}},
		{"across chunks", []int{ringChunk - 1, 7, ringChunk * 2}},
		{"wraps many times", []int{ringChunk * 9, 3, ringChunk*5 + 11}},
		{"one big write", []int{1, ringChunk * 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const max = 4 * ringChunk
			r := newRing(max)
			var all []byte
			for i, n := range tc.writes {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				for j := range p {
					p[j] += byte(j % 7)
				}
				r.Write(p)
				all = append(all, p...)
			}
			got := r.Bytes()
			if want := min(len(all), max); len(got) < want || len(got) > max+ringChunk {
				t.Fatalf("kept %d bytes, want %d to %d", len(got), want, max+ringChunk)
			}
			if !bytes.HasSuffix(all, got) {
				t.Error("what was kept is not the end of what was written")
			}
			if r.total != int64(len(all)) {
				t.Errorf("total %d, want %d", r.total, len(all))
			}
		})
	}
}

func TestTailLines(t *testing.T) {
	in := []byte("one\ntwo\nthree\n")
	for n, want := range map[int]string{-1: "one\ntwo\nthree\n", 0: "", 1: "three\n", 2: "two\nthree\n", 5: "one\ntwo\nthree\n"} {
		if got := string(tailLines(in, n)); got != want {
			t.Errorf("tail %d: %q, want %q", n, got, want)
		}
	}
}

func TestDetachKeys(t *testing.T) {
	keys, err := ParseDetachKeys("")
	if err != nil || !bytes.Equal(keys, []byte{16, 17}) {
		t.Fatalf("default: %v %v", keys, err)
	}
	for _, bad := range []string{"ctrl-1", "ab", "ctrl-", ","} {
		if _, err := ParseDetachKeys(bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
	for _, tc := range []struct {
		name   string
		chunks []string
		want   string
		detach bool
	}{
		{"plain", []string{"hello"}, "hello", false},
		{"sequence", []string{"ab\x10\x11cd"}, "ab", true},
		{"split across reads", []string{"ab\x10", "\x11"}, "ab", true},
		{"prefix then other", []string{"a\x10b"}, "a\x10b", false},
		{"prefix twice", []string{"\x10\x10\x11"}, "\x10", true},
		{"ctrl-c passes", []string{"\x03"}, "\x03", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &detacher{keys: keys}
			var out strings.Builder
			detached := false
			for _, c := range tc.chunks {
				p, done := d.feed([]byte(c))
				out.Write(p)
				if done {
					detached = true
					break
				}
			}
			if out.String() != tc.want || detached != tc.detach {
				t.Errorf("passed %q detached %v, want %q %v", out.String(), detached, tc.want, tc.detach)
			}
		})
	}
}

func TestPlain(t *testing.T) {
	for in, want := range map[string]string{
		"plain\r\nline":                    "plain\nline",
		"\x1b[1;32mgreen\x1b[0m":           "green",
		"\x1b]0;title\x07after":            "after",
		"\x1b]8;;http://x\x1b\\link":       "link",
		"a\rb":                             "a\nb",
		"bell\x07 and \x1b(Bcharset":       "bell and charset",
		"\x1b[?2004h\x1b[2J\x1b[Hscreen\n": "screen\n",
	} {
		if got := Plain([]byte(in)); got != want {
			t.Errorf("Plain(%q) = %q, want %q", in, got, want)
		}
	}
}
