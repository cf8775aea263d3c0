package fsutil

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestReplaceFile(t *testing.T) {
	for _, tt := range []struct {
		name    string
		replace func(string, []byte, os.FileMode) error
	}{{"ReplaceFile", ReplaceFile}, {"ReplaceFileSync", ReplaceFileSync}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f.json")
			if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Concurrent writers: each result is one writer's whole content.
			var wg sync.WaitGroup
			for _, s := range []string{"aaaa", "bbbbbbbb", "cc"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 50 {
						if err := tt.replace(p, []byte(s), 0o600); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if s := string(b); s != "aaaa" && s != "bbbbbbbb" && s != "cc" {
				t.Errorf("content %q is a mix", s)
			}
			st, _ := os.Stat(p)
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("temporary files left: %v", entries)
			}
			if err := tt.replace(filepath.Join(dir, "absent", "f"), []byte("x"), 0o600); err == nil {
				t.Error("a missing folder was not an error")
			}
		})
	}
}
