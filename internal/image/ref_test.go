package image

import (
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"debian:bookworm":            "index.docker.io/library/debian:bookworm",
		"debian":                     "index.docker.io/library/debian:latest",
		"docker.io/user/img":         "index.docker.io/user/img:latest",
		"ghcr.io/org/img:tag":        "ghcr.io/org/img:tag",
		"127.0.0.1:5000/a/b:1":       "127.0.0.1:5000/a/b:1",
		"docker/sandbox-templates:x": "index.docker.io/docker/sandbox-templates:x",
	} {
		got, err := Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if f := Familiar("index.docker.io/library/debian:bookworm"); f != "debian:bookworm" {
		t.Errorf("Familiar = %q", f)
	}
	if _, err := Normalize(""); err == nil {
		t.Error("empty reference accepted")
	}
}

func TestLowerDir(t *testing.T) {
	img := &Image{LayerDirs: []string{"/h/base", "/h/mid:x", "/h/top,y"}}
	if got, want := img.LowerDir(), `/h/top\,y:/h/mid\:x:/h/base`; got != want {
		t.Errorf("LowerDir = %q, want %q", got, want)
	}
}

func TestFlavourMapping(t *testing.T) {
	root := rootFlavour(1<<30, 65536)
	if u, g, sq := root.mapID(1000, 0); u != 1<<30+1000 || g != 1<<30 || sq {
		t.Errorf("root 1000: %d %d %v", u, g, sq)
	}
	if u, _, sq := root.mapID(70000, 0); u != 1<<30+65534 || !sq {
		t.Errorf("root 70000: %d %v", u, sq)
	}
	sub := userFlavour(1000, 1000, 100000, 65535, 100000, 65535, false)
	if u, g, sq := sub.mapID(1000, 50); u != 1000 || g != 50 || sq {
		t.Errorf("sub: %d %d %v", u, g, sq)
	}
	one := userFlavour(1000, 1000, 0, 0, 0, 0, true)
	if u, _, sq := one.mapID(33, 33); u != 0 || !sq {
		t.Errorf("single: %d %v", u, sq)
	}
	if root.Name == sub.Name || sub.Name == one.Name {
		t.Error("flavours share a folder")
	}
}
