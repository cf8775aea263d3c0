package agent

import (
	"slices"
	"testing"
)

func TestShellCommand(t *testing.T) {
	tests := []struct {
		name    string
		hasBash bool
		args    []string
		want    []string
	}{
		{"bash", true, nil, []string{"/bin/bash", "-l"}},
		{"bash with command", true, []string{"-c", "npm test"}, []string{"/bin/bash", "-l", "-c", "npm test"}},
		{"no bash", false, []string{"-c", "true"}, []string{"/bin/sh", "-l", "-c", "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Lookup("shell")
			if err != nil {
				t.Fatal(err)
			}
			got := a.Command(tt.args, func(p string) bool { return tt.hasBash && p == "/bin/bash" })
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUnknownAgent(t *testing.T) {
	if _, err := Lookup("nope"); err == nil || err.Error() != `unknown agent "nope": choose one of shell` {
		t.Fatalf("got %v", err)
	}
}
