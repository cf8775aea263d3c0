package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/store"
)

// realTempDir is t.TempDir with symlinks resolved, so that it compares equal to resolved paths.
func realTempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustMkdir(t *testing.T, p string) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustWrite(t *testing.T, p, content string) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSymlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// checkBadInput asserts that err is a one-line ErrBadInput mentioning every one of want.
func checkBadInput(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", want)
	}
	if !errors.Is(err, ErrBadInput) {
		t.Errorf("error %q does not wrap ErrBadInput", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// envMap turns KEY=VAL pairs into a map, failing on a repeated key.
func envMap(t *testing.T, env []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%q is not KEY=VAL", kv)
		}
		if _, dup := m[k]; dup {
			t.Fatalf("key %s appears twice in %q", k, env)
		}
		m[k] = v
	}
	return m
}

func TestParseEnv(t *testing.T) {
	t.Setenv("PADDOCK_TEST_HOSTVAR", "from-host")
	t.Setenv("PADDOCK_TEST_EMPTY", "")
	os.Unsetenv("PADDOCK_TEST_UNSET")

	tests := []struct {
		name    string
		flags   []string
		files   []string // contents of --env-file files, in order
		want    map[string]string
		wantErr []string // substrings of the error; nil means success
	}{
		{name: "key=val", flags: []string{"A=1"}, want: map[string]string{"A": "1"}},
		{name: "value with =", flags: []string{"A=b=c"}, want: map[string]string{"A": "b=c"}},
		{name: "empty value", flags: []string{"A="}, want: map[string]string{"A": ""}},
		{name: "lowercase and underscore", flags: []string{"_a1=x", "lower=y"}, want: map[string]string{"_a1": "x", "lower": "y"}},
		{name: "host value", flags: []string{"PADDOCK_TEST_HOSTVAR"}, want: map[string]string{"PADDOCK_TEST_HOSTVAR": "from-host"}},
		{name: "host value set but empty", flags: []string{"PADDOCK_TEST_EMPTY"}, want: map[string]string{"PADDOCK_TEST_EMPTY": ""}},
		{name: "later flag wins", flags: []string{"A=1", "B=2", "A=3"}, want: map[string]string{"A": "3", "B": "2"}},
		{name: "nothing", want: map[string]string{}},
		{name: "unset host variable", flags: []string{"PADDOCK_TEST_UNSET"}, wantErr: []string{"PADDOCK_TEST_UNSET", "not set on the host", "PADDOCK_TEST_UNSET=VALUE"}},
		{name: "leading digit", flags: []string{"1FOO=x"}, wantErr: []string{`"1FOO"`, "not a valid variable name"}},
		{name: "dash", flags: []string{"FOO-BAR=x"}, wantErr: []string{`"FOO-BAR"`, "not a valid variable name"}},
		{name: "space", flags: []string{"FOO BAR=x"}, wantErr: []string{"not a valid variable name"}},
		{name: "empty item", flags: []string{""}, wantErr: []string{"not a valid variable name"}},
		{name: "empty name", flags: []string{"=x"}, wantErr: []string{"not a valid variable name"}},
		{
			name:  "env file: comments, blank lines, export, host value",
			files: []string{"# a comment\n\n   \nexport A=1\n  B=two words  \n\t# indented comment\nPADDOCK_TEST_HOSTVAR\nC=\n"},
			want:  map[string]string{"A": "1", "B": "two words", "PADDOCK_TEST_HOSTVAR": "from-host", "C": ""},
		},
		{name: "env file: CRLF line ends", files: []string{"A=1\r\nB=2\r\n"}, want: map[string]string{"A": "1", "B": "2"}},
		{name: "env file: no final newline", files: []string{"A=1\nB=2"}, want: map[string]string{"A": "1", "B": "2"}},
		{name: "env file: later line wins", files: []string{"A=1\nA=2\n"}, want: map[string]string{"A": "2"}},
		{name: "later env file wins", files: []string{"A=first\nB=first\n", "A=second\n"}, want: map[string]string{"A": "second", "B": "first"}},
		{name: "-e wins over env file", flags: []string{"A=flag"}, files: []string{"A=file\nB=file\n"}, want: map[string]string{"A": "flag", "B": "file"}},
		{name: "env file: bad name on line 3", files: []string{"A=1\n\n1BAD=x\n"}, wantErr: []string{"line 3", "1BAD"}},
		{name: "env file: bad name after comments on line 4", files: []string{"# c\nA=1\n# c\nFOO-BAR=1\n"}, wantErr: []string{"line 4", "FOO-BAR"}},
		{name: "env file: unset host variable on line 2", files: []string{"A=1\nPADDOCK_TEST_UNSET\n"}, wantErr: []string{"line 2", "PADDOCK_TEST_UNSET", "not set on the host"}},
		{name: "second env file names itself", files: []string{"A=1\n", "B=1\nB-2=x\n"}, wantErr: []string{"env1", "line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var files []string
			for i, c := range tt.files {
				files = append(files, mustWrite(t, filepath.Join(dir, "env"+strconv.Itoa(i)), c))
			}
			got, err := ParseEnv(tt.flags, files)
			if tt.wantErr != nil {
				checkBadInput(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("ParseEnv: %v", err)
			}
			gm := envMap(t, got)
			if len(gm) != len(tt.want) {
				t.Fatalf("ParseEnv = %q, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if gv, ok := gm[k]; !ok || gv != v {
					t.Fatalf("ParseEnv = %q; %s should be %q", got, k, v)
				}
			}
		})
	}
}

func TestParseEnvMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.env")
	_, err := ParseEnv(nil, []string{missing})
	checkBadInput(t, err, "--env-file", missing, "no such file")
}

// A line longer than bufio.Scanner's 64 KiB limit must not make ParseEnv stop reading the file
// and succeed with the variables after it silently dropped.
func TestParseEnvLongLine(t *testing.T) {
	f := mustWrite(t, filepath.Join(t.TempDir(), "env"),
		"BEFORE=1\nLONG="+strings.Repeat("x", 70<<10)+"\nAFTER=1\n")
	got, err := ParseEnv(nil, []string{f})
	if err != nil {
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("error %q does not wrap ErrBadInput", err)
		}
		return // refusing the file is acceptable
	}
	m := envMap(t, got)
	if m["AFTER"] != "1" || len(m["LONG"]) != 70<<10 {
		t.Fatalf("ParseEnv succeeded but dropped variables: got keys %v (LONG has %d bytes), want BEFORE, LONG and AFTER",
			keys(m), len(m["LONG"]))
	}
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	return k
}

func TestParseVolume(t *testing.T) {
	tmp := realTempDir(t)
	t.Setenv("HOME", tmp)
	host := mustMkdir(t, filepath.Join(tmp, "host"))
	file := mustWrite(t, filepath.Join(tmp, "file.txt"), "x")
	link := mustSymlink(t, host, filepath.Join(tmp, "link"))
	mustSymlink(t, "host", filepath.Join(tmp, "rellink"))
	t.Chdir(tmp)

	bind := func(src, target string, ro bool) backend.Mount {
		return backend.Mount{Kind: backend.KindBind, Source: src, Target: target, ReadOnly: ro}
	}
	tests := []struct {
		in      string
		want    backend.Mount
		wantErr []string
	}{
		{in: host, want: bind(host, host, false)},
		{in: host + ":/data", want: bind(host, "/data", false)},
		{in: host + ":ro", want: bind(host, host, true)},
		{in: host + ":rw", want: bind(host, host, false)},
		{in: host + ":/data:ro", want: bind(host, "/data", true)},
		{in: host + ":/data:rw", want: bind(host, "/data", false)},
		{in: host + ":/data/sub/", want: bind(host, "/data/sub", false)},
		{in: host + ":/tmp/x", want: bind(host, "/tmp/x", false)},
		{in: host + ":/root/.cache", want: bind(host, "/root/.cache", false)},
		{in: host + ":/home/me/data", want: bind(host, "/home/me/data", false)},
		{in: file + ":/data/f.txt:ro", want: bind(file, "/data/f.txt", true)},
		{in: link + ":/data", want: bind(host, "/data", false)},
		{in: filepath.Join(tmp, "rellink") + ":/data", want: bind(host, "/data", false)},
		{in: "host:/data", want: bind(host, "/data", false)},
		{in: "./host/../host", want: bind(host, host, false)},
		{in: "~/host:/data", want: bind(host, "/data", false)},
		{in: "~/link:/data:ro", want: bind(host, "/data", true)},

		{in: filepath.Join(tmp, "missing") + ":/data", wantErr: []string{"does not exist"}},
		{in: host + ":data", wantErr: []string{"must be absolute"}},
		{in: host + "::ro", wantErr: []string{"must be absolute"}},
		{in: host + ":/", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/proc", wantErr: []string{"/proc", "cannot be mounted over"}},
		{in: host + ":/proc/x", wantErr: []string{"/proc/x", "cannot be mounted over"}},
		{in: host + ":/etc", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/etc/ssl/certs:ro", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/usr/local", wantErr: []string{"/usr/local", "cannot be mounted over"}},
		{in: host + ":/root", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/tmp", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/tmp/", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/var", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/dev/shm", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/sys", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/data/../etc", wantErr: []string{"cannot be mounted over"}},
		{in: "/usr/share", wantErr: []string{"cannot be mounted over"}},
		{in: host + ":/a:/b", wantErr: []string{"expected HOST[:SANDBOX][:ro]"}},
		{in: host + ":/a:/b:ro", wantErr: []string{"expected HOST[:SANDBOX][:ro]"}},
		{in: "a:b:c", wantErr: []string{"expected HOST[:SANDBOX][:ro]"}},
		{in: "", wantErr: []string{"expected HOST[:SANDBOX][:ro]"}},
		{in: ":/data", wantErr: []string{"expected HOST[:SANDBOX][:ro]"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in)
			if tt.wantErr != nil {
				checkBadInput(t, err, append([]string{"-v"}, tt.wantErr...)...)
				return
			}
			if err != nil {
				t.Fatalf("ParseVolume(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseVolume(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseExtraWorkspace(t *testing.T) {
	tmp := realTempDir(t)
	t.Setenv("HOME", filepath.Join(tmp, "home"))
	mustMkdir(t, filepath.Join(tmp, "home"))
	docs := mustMkdir(t, filepath.Join(tmp, "docs"))
	link := mustSymlink(t, docs, filepath.Join(tmp, "docslink"))
	mustMkdir(t, filepath.Join(tmp, "home", "notes"))
	t.Chdir(tmp)

	ws := func(p string, ro bool) backend.Mount {
		return backend.Mount{Kind: backend.KindWorkspace, Source: p, Target: p, ReadOnly: ro}
	}
	tests := []struct {
		in      string
		want    backend.Mount
		wantErr []string
	}{
		{in: docs, want: ws(docs, false)},
		{in: docs + ":ro", want: ws(docs, true)},
		{in: docs + ":rw", want: ws(docs, false)},
		{in: link, want: ws(docs, false)},
		{in: link + ":ro", want: ws(docs, true)},
		{in: "docs", want: ws(docs, false)},
		{in: "~/notes:ro", want: ws(filepath.Join(tmp, "home", "notes"), true)},
		{in: filepath.Join(tmp, "missing"), wantErr: []string{"does not exist"}},
		{in: filepath.Join(tmp, "missing") + ":ro", wantErr: []string{"does not exist"}},
		{in: "/usr", wantErr: []string{"system folder"}},
		{in: "/usr/local/bin:ro", wantErr: []string{"system folder"}},
		{in: "/etc", wantErr: []string{"system folder"}},
		{in: "/", wantErr: []string{"system folder"}},
		{in: "/tmp", wantErr: []string{"system folder"}},
		{in: docs + ":/elsewhere", wantErr: []string{"does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseExtraWorkspace(tt.in)
			if tt.wantErr != nil {
				checkBadInput(t, err, append([]string{"workspace"}, tt.wantErr...)...)
				return
			}
			if err != nil {
				t.Fatalf("ParseExtraWorkspace(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseExtraWorkspace(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// Extra workspaces of `create` are workspaces too: product.md item 10 refuses a workspace of
// $HOME unless forced, and a workspace must be a folder (ResolveWorkspace refuses both for the
// main workspace).
func TestParseExtraWorkspaceRefusesFiles(t *testing.T) {
	file := mustWrite(t, filepath.Join(realTempDir(t), "notes.txt"), "x")
	m, err := ParseExtraWorkspace(file)
	if err == nil {
		t.Fatalf("ParseExtraWorkspace(%q) = %+v; want a bad-input error", file, m)
	}
	checkBadInput(t, err, "not a folder")
}

// Extra workspaces get the main workspace's checks: the home folder needs --force.
func TestEnsureRefusesHomeAsExtraWorkspace(t *testing.T) {
	tmp := realTempDir(t)
	home := mustMkdir(t, filepath.Join(tmp, "home"))
	ws := mustMkdir(t, filepath.Join(tmp, "proj"))
	t.Setenv("HOME", home)
	m := &Manager{Store: &store.Store{Root: filepath.Join(tmp, "state")}}
	for _, in := range []string{home, "~", home + ":ro"} {
		x, err := ParseExtraWorkspace(in)
		if err != nil {
			t.Fatalf("ParseExtraWorkspace(%q): %v", in, err)
		}
		_, _, err = m.Ensure(context.Background(), Options{Agent: "shell", Workspace: ws, Extra: []backend.Mount{x}})
		if err == nil {
			t.Fatalf("Ensure with extra workspace %q succeeded; want a refusal", in)
		}
		checkBadInput(t, err, "home folder")
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "512m", want: 512 << 20},
		{in: "512M", want: 512 << 20},
		{in: "2g", want: 2 << 30},
		{in: " 2G ", want: 2 << 30},
		{in: "2gb", want: 2 << 30},
		{in: "1.5GiB", want: 3 << 29},
		{in: "1073741824", want: 1 << 30},
		{in: "64MB", want: 64 << 20},
		{in: "64mib", want: 64 << 20},
		{in: "16m", want: 16 << 20},
		{in: "16384k", want: 16 << 20},
		{in: "1t", want: 1 << 40},
		{in: "lots", wantErr: "expected a size"},
		{in: "0", wantErr: "expected a size"},
		{in: "0g", wantErr: "expected a size"},
		{in: "-1", wantErr: "expected a size"},
		{in: "-2g", wantErr: "expected a size"},
		{in: "", wantErr: "expected a size"},
		{in: "m", wantErr: "expected a size"},
		{in: "2x", wantErr: "expected a size"},
		{in: "2 g", wantErr: "expected a size"},
		{in: "nan", wantErr: "expected a size"},
		{in: "inf", wantErr: "expected a size"},
		{in: "1k", wantErr: "at least 16m"},
		{in: "15m", wantErr: "at least 16m"},
		{in: "1.5", wantErr: "at least 16m"},
		{in: "16777215", wantErr: "at least 16m"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMemory(tt.in)
			if tt.wantErr != "" {
				checkBadInput(t, err, "--memory", tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("ParseMemory(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseMemory(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// Sizes beyond what an int64 holds must be refused as too large: float64 to int64 conversion
// of an out-of-range value is implementation-defined in Go (MinInt64 on amd64, so the user is
// told the size is too small; MaxInt64 on arm64, so it is accepted).
func TestParseMemoryOverflow(t *testing.T) {
	for _, in := range []string{"99999999t", "1e30g", "10000000000000000000"} {
		t.Run(in, func(t *testing.T) {
			got, err := ParseMemory(in)
			if err == nil {
				t.Fatalf("ParseMemory(%q) = %d; want an error", in, got)
			}
			checkBadInput(t, err, "--memory")
			if strings.Contains(err.Error(), "at least 16m") {
				t.Fatalf("ParseMemory(%q) says the size is too small: %v", in, err)
			}
		})
	}
}

func TestParseCPUs(t *testing.T) {
	n := runtime.NumCPU()
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{in: "0.5", want: 0.5},
		{in: "1", want: 1},
		{in: "0.01", want: 0.01},
		{in: strconv.Itoa(n), want: float64(n)},
		{in: "0", wantErr: true},
		{in: "0.001", wantErr: true},
		{in: "-1", wantErr: true},
		{in: strconv.Itoa(n + 1), wantErr: true},
		{in: strconv.FormatFloat(float64(n)+0.5, 'f', 1, 64), wantErr: true},
		{in: "abc", wantErr: true},
		{in: "", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "Inf", wantErr: true},
		{in: "1,5", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCPUs(tt.in)
			if tt.wantErr {
				checkBadInput(t, err, "--cpus", strconv.Itoa(n))
				return
			}
			if err != nil {
				t.Fatalf("ParseCPUs(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseCPUs(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // backend.Port.String(), "" for an error
	}{
		{"3000", "127.0.0.1:3000:3000"},
		{"8080:80", "127.0.0.1:8080:80"},
		{"0.0.0.0:3000", "0.0.0.0:3000:3000"},
		{"0.0.0.0:8080:80", "0.0.0.0:8080:80"},
		{"[::1]:8080:80", "[::1]:8080:80"},
		{"[::]:3000", "[::]:3000:3000"},
		{"", ""},
		{"0", ""},
		{"65536", ""},
		{"30a0", ""},
		{"host:1:2", ""},
		{"1:2:3:4", ""},
		{"[::1]3000", ""},
		{"[fe80::1%eth0]:3000", ""},
		{"+80", ""},
		{"080", ""},
	} {
		p, err := ParsePort(tc.in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != tc.want {
			t.Errorf("ParsePort(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
