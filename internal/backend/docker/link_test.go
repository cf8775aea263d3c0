package docker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// frame is one of the engine's frames of a terminal-less attach stream.
func frame(stream byte, p string) []byte {
	h := make([]byte, 8)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	return append(h, p...)
}

// The link's stream is the exec's stdout, taken out of the frames, whatever their sizes; stderr
// frames are not part of it.
func TestExecStreamDemux(t *testing.T) {
	var raw []byte
	raw = append(raw, frame(1, "hello ")...)
	raw = append(raw, frame(2, "a warning")...)
	raw = append(raw, frame(1, "")...)
	raw = append(raw, frame(1, strings.Repeat("x", 70000))...)
	raw = append(raw, frame(1, " end")...)
	s := &execStream{r: bufio.NewReaderSize(bytes.NewReader(raw), 16)}
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello " + strings.Repeat("x", 70000) + " end"; string(got) != want {
		t.Fatalf("demuxed %d bytes, want %d (%q...)", len(got), len(want), got[:min(len(got), 20)])
	}
	// A stream cut inside a frame ends with an error, not with made-up bytes.
	s = &execStream{r: bufio.NewReader(bytes.NewReader(frame(1, "abcdef")[:11]))}
	if got, err := io.ReadAll(s); err == nil || string(got) != "abc" {
		t.Fatalf("cut frame: %q %v", got, err)
	}
}

func TestCheckLinuxBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(t.TempDir(), "paddock")
	os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755)
	native := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[goarchOf(t, self)]
	other := map[string]string{"x86_64": "aarch64", "aarch64": "x86_64"}[native]
	for _, tc := range []struct {
		bin, arch string
		ok        bool
		says      string
	}{
		{self, native, true, ""},
		{self, other, false, "set PADDOCK_LINUX_BINARY"},
		{text, native, false, "not a Linux executable"},
		{filepath.Join(t.TempDir(), "missing"), native, false, "not a Linux executable"},
	} {
		err := checkLinuxBinary(tc.bin, tc.arch)
		if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), tc.says) {
			t.Errorf("checkLinuxBinary(%s, %s) = %v", tc.bin, tc.arch, err)
		}
	}
}

func goarchOf(t *testing.T, bin string) string {
	b, err := os.ReadFile(bin)
	if err != nil || len(b) < 20 {
		t.Fatal(err)
	}
	switch binary.LittleEndian.Uint16(b[18:]) {
	case 62:
		return "amd64"
	case 183:
		return "arm64"
	}
	t.Skip("not an amd64 or arm64 test binary")
	return ""
}

// On macOS and Windows the relay is the paddock-linux-ARCH that the release archive puts beside
// paddock; PADDOCK_LINUX_BINARY wins everywhere; on Linux it is the paddock beside paddock-oci.
func TestLinuxBinary(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "paddock-oci")
	os.WriteFile(filepath.Join(dir, "paddock-linux-arm64"), nil, 0o755)
	sibling := func() (string, error) { return filepath.Join(dir, "paddock"), nil }
	for _, tc := range []struct {
		goos, arch, env string
		want, fails     string
	}{
		{goos: "linux", arch: "x86_64", want: filepath.Join(dir, "paddock")},
		{goos: "darwin", arch: "aarch64", want: filepath.Join(dir, "paddock-linux-arm64")},
		{goos: "windows", arch: "x86_64", fails: "no paddock-linux-amd64 beside"},
		{goos: "darwin", arch: "x86_64", env: "/opt/paddock-linux", want: "/opt/paddock-linux"},
		{goos: "linux", arch: "x86_64", env: "/opt/paddock-linux", want: "/opt/paddock-linux"},
	} {
		got, err := linuxBinary(tc.goos, tc.arch, self, tc.env, sibling)
		if tc.fails != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fails) || !strings.Contains(err.Error(), "PADDOCK_LINUX_BINARY") {
				t.Errorf("%s/%s: want an error saying %q, got %q, %v", tc.goos, tc.arch, tc.fails, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s/%s env %q: got %q, %v; want %s", tc.goos, tc.arch, tc.env, got, err, tc.want)
		}
	}
}
