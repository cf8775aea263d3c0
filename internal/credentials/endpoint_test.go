package credentials

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckEndpoint(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://llm-gateway.corp.example/anthropic/", "https://llm-gateway.corp.example/anthropic"},
		{"https://GW.example.com:8443", "https://gw.example.com:8443"},
		{"http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"},
		{"http://localhost:11434", "http://localhost:11434"},
		{"http://[::1]:9000", "http://[::1]:9000"},
		{"http://127.8.9.10:80", "http://127.8.9.10:80"},
		{"http://gateway.example.com", ""}, // the key would travel in clear
		{"http://10.0.0.5:8080", ""},
		{"ftp://example.com", ""},
		{"example.com", ""},
		{"https://user:pw@example.com", ""},
		{"https://example.com/?key=x", ""},
		{"https://example.com:99999", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, err := CheckEndpoint(c.in)
		if c.want == "" {
			if !errors.Is(err, ErrBadEndpoint) {
				t.Errorf("CheckEndpoint(%q) = %q, %v; want refused", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("CheckEndpoint(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestEndpointStore(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "secrets"))
	if ep, err := s.Endpoint("anthropic"); ep != "" || err != nil {
		t.Fatalf("unset: %q %v", ep, err)
	}
	s.Set("anthropic", "sk-1")
	if err := s.SetEndpoint("anthropic", "http://127.0.0.1:9/"); err != nil {
		t.Fatal(err)
	}
	if ep, _ := s.Endpoint("anthropic"); ep != "http://127.0.0.1:9" {
		t.Fatalf("endpoint %q", ep)
	}
	if st, _ := os.Stat(filepath.Join(s.Dir, "anthropic.endpoint")); st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("endpoint file: %v", st)
	}
	if names, _ := s.List(); len(names) != 1 {
		t.Fatalf("List: %q", names)
	}
	if err := s.SetEndpoint("anthropic", "http://example.com"); !errors.Is(err, ErrBadEndpoint) {
		t.Fatalf("bad endpoint stored: %v", err)
	}
	// rm takes the endpoint with the key.
	if err := s.Remove("anthropic"); err != nil {
		t.Fatal(err)
	}
	if ep, _ := s.Endpoint("anthropic"); ep != "" {
		t.Fatalf("endpoint after rm: %q", ep)
	}
}
