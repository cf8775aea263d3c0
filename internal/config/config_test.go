package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadFile(t *testing.T) {
	cases := []struct {
		name, body string
		want       Config
		err        bool
	}{
		{"empty", "", Config{}, false},
		{"backend", "# mine\nbackend = \"docker\"\n", Config{Backend: "docker"}, false},
		{"both", "backend=\"native\"\ndocker_image = \"debian:bookworm\" # default\n", Config{Backend: "native", DockerImage: "debian:bookworm"}, false},
		{"bare", "backend = docker\n", Config{Backend: "docker"}, false},
		{"unknown", "colour = \"red\"\n", Config{}, true},
		{"no equals", "backend\n", Config{}, true},
		{"unterminated", "backend = \"docker\n", Config{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.toml")
			os.WriteFile(p, []byte(c.body), 0o644)
			got, err := LoadFile(p)
			if c.err {
				if !errors.Is(err, ErrBadConfig) {
					t.Fatalf("want ErrBadConfig, got %v", err)
				}
				return
			}
			got.Path = ""
			if err != nil || got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
	if c, err := LoadFile(filepath.Join(t.TempDir(), "missing.toml")); err != nil || c.Backend != "" {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
}
