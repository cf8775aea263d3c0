package sandbox

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  int
		writes []string
		want   string
		trunc  bool
	}{
		{"fits", 10, []string{"abc", "def"}, "abcdef", false},
		{"exact", 6, []string{"abcdef"}, "abcdef", false},
		{"one big write", 6, []string{"0123456789"}, "012\n[... 4 bytes left out ...]\n789", true},
		{"many small writes", 6, []string{"01", "23", "45", "67", "89"}, "012\n[... 4 bytes left out ...]\n789", true},
		{"odd limit", 5, []string{"0123456789"}, "012\n[... 5 bytes left out ...]\n89", true},
		{"nothing kept", 0, []string{"abc"}, "\n[... 3 bytes left out ...]\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &bounded{limit: tc.limit}
			var total int64
			for _, w := range tc.writes {
				n, err := b.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
				total += int64(len(w))
			}
			o := b.output()
			if o.Text != tc.want || o.Truncated != tc.trunc || o.Bytes != total {
				t.Fatalf("got %+v, want text %q truncated %v bytes %d", o, tc.want, tc.trunc, total)
			}
		})
	}
}

// TestCapture: both streams are captured and bounded, stdin reaches the command, and a writer
// that keeps the stream open after the command ended does not hold Capture up.
func TestCapture(t *testing.T) {
	big := strings.Repeat("x", 1<<20) + "END"
	code, out, err := Capture([]byte("input"), 100, func(s Streams) (int, error) {
		in := make([]byte, 5)
		if _, err := s.Stdin.Read(in); err != nil {
			return -1, err
		}
		s.Stdout.WriteString("got " + string(in))
		s.Stderr.WriteString(big)
		return 3, nil
	})
	if err != nil || code != 3 {
		t.Fatalf("code %d, err %v", code, err)
	}
	if out.Stdout.Text != "got input" || out.Stdout.Truncated {
		t.Fatalf("stdout %+v", out.Stdout)
	}
	if !out.Stderr.Truncated || out.Stderr.Bytes != int64(len(big)) || !strings.HasSuffix(out.Stderr.Text, "xEND") || len(out.Stderr.Text) > 200 {
		t.Fatalf("stderr %+v", out.Stderr)
	}

	// A process that outlives the command, holding its stdout.
	bg := exec.Command("sleep", "30")
	start := time.Now()
	_, _, err = Capture(nil, 100, func(s Streams) (int, error) {
		bg.Stdout = s.Stdout
		if err := bg.Start(); err != nil {
			t.Fatal(err)
		}
		return -1, errors.New("boom")
	})
	bg.Process.Kill()
	bg.Wait()
	if err == nil || err.Error() != "boom" || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}
