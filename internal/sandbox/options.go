package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
)

// ErrBadInput marks errors in what the user typed.
var ErrBadInput = errors.New("bad input")

func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadInput}, a...)...)
}

// ParseEnv turns -e values (KEY=VAL, or KEY to pass the host's value) and --env-file files into
// KEY=VAL pairs; later values of a key win.
func ParseEnv(flags []string, files []string) ([]string, error) {
	var out []string
	add := func(src, item string) error {
		k, v, hasVal := strings.Cut(item, "=")
		if !validEnvKey(k) {
			return badInput("%s %q: %q is not a valid variable name", src, item, k)
		}
		if !hasVal {
			hv, ok := os.LookupEnv(k)
			if !ok {
				return badInput("%s %s: %s is not set on the host; give a value with %s=VALUE", src, k, k, k)
			}
			v = hv
		}
		out = append(out, k+"="+v)
		return nil
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, badInput("--env-file %s: %v", f, errors.Unwrap(err))
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for n = 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(fmt.Sprintf("--env-file %s line %d:", f, n), strings.TrimPrefix(line, "export ")); err != nil {
				fh.Close()
				return nil, err
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, badInput("--env-file %s line %d: %v", f, n, err)
		}
	}
	for _, e := range flags {
		if err := add("-e", e); err != nil {
			return nil, err
		}
	}
	return dedupEnv(out), nil
}

func dedupEnv(env []string) []string {
	last := map[string]int{}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = i
	}
	var out []string
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if last[k] == i {
			out = append(out, kv)
		}
	}
	return out
}

func validEnvKey(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ParseVolume parses -v HOST[:SANDBOX][:ro|rw]. HOST must exist; SANDBOX defaults to HOST.
func ParseVolume(v string) (backend.Mount, error) {
	parts := strings.Split(v, ":")
	ro := false
	if n := len(parts); n > 1 && (parts[n-1] == "ro" || parts[n-1] == "rw") {
		ro = parts[n-1] == "ro"
		parts = parts[:n-1]
	}
	if len(parts) > 2 || parts[0] == "" {
		return backend.Mount{}, badInput("-v %q: expected HOST[:SANDBOX][:ro]", v)
	}
	src, err := hostPath(parts[0])
	if err != nil {
		return backend.Mount{}, badInput("-v %q: %v", v, err)
	}
	target := src
	if len(parts) == 2 {
		target = parts[1]
		if !filepath.IsAbs(target) {
			return backend.Mount{}, badInput("-v %q: the sandbox path %q must be absolute", v, target)
		}
		target = filepath.Clean(target)
	}
	if reservedTarget(target) {
		return backend.Mount{}, badInput("-v %q: %s is managed by paddock and cannot be mounted over; pick another sandbox path", v, target)
	}
	return backend.Mount{Kind: backend.KindBind, Source: src, Target: target, ReadOnly: ro}, nil
}

// ParseExtraWorkspace parses an extra workspace of `create`: PATH[:ro], shown at its own path.
func ParseExtraWorkspace(v string) (backend.Mount, error) {
	p, ro := v, false
	if s, ok := strings.CutSuffix(v, ":ro"); ok {
		p, ro = s, true
	} else if s, ok := strings.CutSuffix(v, ":rw"); ok {
		p = s
	}
	src, err := hostPath(p)
	if err != nil {
		return backend.Mount{}, badInput("workspace %q: %v", v, err)
	}
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return backend.Mount{}, badInput("workspace %q: %s is not a folder", v, src)
	}
	if reservedTarget(src) {
		return backend.Mount{}, badInput("workspace %q: %s is a system folder and cannot be a workspace", v, src)
	}
	return backend.Mount{Kind: backend.KindWorkspace, Source: src, Target: src, ReadOnly: ro}, nil
}

// hostPath makes p absolute, resolves symlinks and checks that it exists.
func hostPath(p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, p[1:])
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%s does not exist", abs)
	}
	return real, nil
}

var reservedTargets = []string{"/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/run", "/boot"}

// reservedTarget reports whether a mount at target would cover the engine's own folders.
func reservedTarget(target string) bool {
	t := filepath.Clean(target)
	if t == "/" || t == "/root" || t == "/tmp" || t == "/var" || t == "/home" {
		return true
	}
	for _, r := range reservedTargets {
		if t == r || strings.HasPrefix(t, r+"/") {
			return true
		}
	}
	return false
}

// ParseMemory parses sizes like 512m, 2g, 1.5GiB or a byte count.
func ParseMemory(s string) (int64, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	num := strings.TrimRightFunc(in, func(r rune) bool { return r >= 'a' && r <= 'z' })
	units := map[string]float64{"": 1, "b": 1,
		"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}
	mult, ok := units[in[len(num):]]
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !ok || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, badInput("--memory %q: expected a size such as 512m or 2g", s)
	}
	if f*mult >= math.MaxInt64/2 {
		return 0, badInput("--memory %q: too large", s)
	}
	n := int64(f * mult)
	if n < 16<<20 {
		return 0, badInput("--memory %q: at least 16m is needed to run anything", s)
	}
	return n, nil
}

// ParseDisk parses --disk: a size such as 20g, optionally with an inode count ("20g,inodes=1m",
// k and m being thousands and millions); without one, one inode per backend.BytesPerInode. "none"
// (or 0) is no limit.
func ParseDisk(s string) (bytes, inodes int64, err error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "none" || in == "0" {
		return 0, 0, nil
	}
	size, rest, hasInodes := strings.Cut(in, ",")
	bytes, err = ParseMemory(size)
	if err != nil {
		return 0, 0, badInput("--disk %q: expected a size of at least 16m such as 20g, optionally with inodes (20g,inodes=1m), or none", s)
	}
	inodes = bytes / backend.BytesPerInode
	if hasInodes {
		v, ok := strings.CutPrefix(rest, "inodes=")
		mult := int64(1)
		switch {
		case strings.HasSuffix(v, "k"):
			v, mult = strings.TrimSuffix(v, "k"), 1000
		case strings.HasSuffix(v, "m"):
			v, mult = strings.TrimSuffix(v, "m"), 1000000
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if !ok || perr != nil || n <= 0 || n > math.MaxInt32/mult {
			return 0, 0, badInput("--disk %q: expected inodes=N after the size (20g,inodes=1m)", s)
		}
		inodes = n * mult
	}
	if inodes < 1024 {
		return 0, 0, badInput("--disk %q: give at least 1024 inodes", s)
	}
	return bytes, inodes, nil
}

// FormatDisk prints a disk limit ("none" for no limit).
func FormatDisk(l backend.Limits) string {
	if l.DiskBytes == 0 {
		return "none"
	}
	return fmt.Sprintf("%s,inodes=%d", FormatBytes(l.DiskBytes), l.DiskInodes)
}

// ParseCPUs parses --cpus: a positive number no larger than the host's CPU count.
func ParseCPUs(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	n := runtime.NumCPU()
	if err != nil || f < 0.01 || f > float64(n) || math.IsNaN(f) {
		return 0, badInput("--cpus %q: expected a number from 0.01 to %d (the CPUs of this host)", s, n)
	}
	return f, nil
}
