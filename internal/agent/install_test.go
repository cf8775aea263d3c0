package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAgent is installed from a fake npm.
type fakeAgent struct{}

func (fakeAgent) Name() string { return "fake" }
func (fakeAgent) Info() Info   { return Info{Package: "fake-pkg", Bin: "fake"} }
func (fakeAgent) Command(args []string, _ func(string) bool) []string {
	return append([]string{BinDir + "/fake"}, args...)
}

// fakeNPM is an npm that logs its calls and installs a one-file package: `view` answers 1.1.0
// for the latest, 2.0.0-beta.1 for the next tag and a list for ranges; version 9.9.9 does not
// exist; FAKE_NPM_OFFLINE makes the registry unreachable; FAKE_NPM_SLEEP slows installs.
const fakeNPM = `#!/bin/sh
echo "$*" >> "$FAKE_NPM_LOG"
for a; do spec=$a; done
case "$1" in
config)
	echo "{\"registry\": \"${FAKE_NPM_REGISTRY:-https://registry.npmjs.org/}\", \"strict-ssl\": true, \"fund\": false}" ;;
audit)
	echo '{"invalid": [], "missing": []}' ;;
view)
	spec=$2
	if [ -n "$FAKE_NPM_OFFLINE" ]; then
		echo "npm error code ENOTFOUND" >&2
		echo "npm error network request to https://registry.npmjs.org/fake-pkg failed" >&2
		exit 1
	fi
	case "$spec" in
	*@9.9.9|*@nope) echo "npm error code E404" >&2; echo "npm error 404 No match found for version 9.9.9" >&2; exit 1 ;;
	*@next) echo '"2.0.0-beta.1"' ;;
	*@*) printf '[\n"1.0.0",\n"1.0.5"\n]\n' ;;
	*) echo '"1.1.0"' ;;
	esac ;;
install)
	prefix=$PWD
	[ -f package.json ] || { echo "npm error no package.json in $PWD"; exit 1; }
	ver=${spec##*@}
	if [ "$ver" = 9.9.9 ]; then
		echo "npm error code ETARGET"
		echo "npm error notarget No matching version found for fake-pkg@9.9.9."
		exit 1
	fi
	if [ "$ver" = 6.6.6 ]; then
		echo "npm error code EACCES"
		echo "npm error syscall open"
		exit 1
	fi
	mkdir -p "$prefix/node_modules/fake-pkg/bin" "$prefix/node_modules/.bin"
	printf '#!/usr/bin/env node\n' > "$prefix/node_modules/fake-pkg/bin/cli.js"
	chmod +x "$prefix/node_modules/fake-pkg/bin/cli.js"
	sleep "${FAKE_NPM_SLEEP:-0}"
	ln -s ../fake-pkg/bin/cli.js "$prefix/node_modules/.bin/fake"
	echo "$ver" > "$prefix/node_modules/fake-pkg/VERSION" ;;
esac
`

func noRegistry(context.Context, npmSettings, string, string) (string, error) {
	return "", errors.New("no registry in unit tests")
}

type npmFixture struct {
	in  *Installer
	log string
}

func newFixture(t *testing.T) *npmFixture {
	t.Helper()
	dir := t.TempDir()
	// Installed versions are read-only, as a sandbox sees them: an ordinary user (not root, who
	// ignores modes) makes them writable again for the test's cleanup.
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	npm := filepath.Join(dir, "npm")
	if err := os.WriteFile(npm, []byte(fakeNPM), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "npm.log")
	t.Setenv("FAKE_NPM_LOG", log)
	t.Setenv("FAKE_NPM_OFFLINE", "")
	t.Setenv("FAKE_NPM_SLEEP", "0")
	t.Setenv("FAKE_NPM_REGISTRY", "")
	in := &Installer{Root: filepath.Join(dir, "agents"), NPM: npm, Sandbox: &hostSandbox{npm: npm},
		verify: func(context.Context, npmSettings, string, string) (installCheck, error) {
			return installCheck{Summary: "no registry signature offered; no provenance offered"}, nil
		},
		// The fake npm's registry is not reachable: dist-tags are asked of it (view).
		distTag: noRegistry}
	return &npmFixture{in: in, log: log}
}

// calls counts npm invocations of a kind (view, install).
func (f *npmFixture) calls(kind string) int {
	b, _ := os.ReadFile(f.log)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, kind+" ") {
			n++
		}
	}
	return n
}

// leftovers lists what is in the agent's cache folder besides complete versions and locks.
func leftovers(t *testing.T, in *Installer) []string {
	entries, _ := os.ReadDir(filepath.Join(in.Root, "fake"))
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestInstallLatestOnceAndReadOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	got, err := f.in.Ensure(ctx, fakeAgent{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "1.1.0" || got.Dir != filepath.Join(f.in.Root, "fake", "1.1.0") {
		t.Fatalf("installed %+v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(got.Dir, "node_modules/fake-pkg/VERSION")); strings.TrimSpace(string(b)) != "1.1.0" {
		t.Fatalf("npm installed %q", b)
	}
	if !got.NeedsNode(fakeAgent{}) {
		t.Fatal("a node script does not need node?")
	}
	// Read-only: no write bit anywhere, so nobody changes a shared install by accident.
	filepath.Walk(got.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode()&os.ModeSymlink == 0 && info.Mode().Perm()&0o222 != 0 {
			t.Errorf("%s is writable: %v", p, info.Mode())
		}
		return nil
	})
	// A second sandbox (a second installer: another paddock process) does not install again.
	again := &Installer{Root: f.in.Root, NPM: f.in.NPM, Sandbox: f.in.Sandbox, distTag: noRegistry}
	if got2, err := again.Ensure(ctx, fakeAgent{}, ""); err != nil || got2 != got {
		t.Fatalf("second Ensure = %+v, %v", got2, err)
	}
	// A pinned version that is cached needs no registry at all.
	if _, err := again.Ensure(ctx, fakeAgent{}, "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if n := f.calls("install"); n != 1 {
		t.Fatalf("npm install ran %d times, want 1", n)
	}
	if n := f.calls("view"); n != 1 {
		t.Fatalf("npm view ran %d times, want 1 (an installed version starts without asking the registry)", n)
	}
	if err := f.in.Remove("fake", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(got.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Remove left %s", got.Dir)
	}
}

func TestInstallTagsAndRanges(t *testing.T) {
	f := newFixture(t)
	for want, ver := range map[string]string{"next": "2.0.0-beta.1", "^1.0": "1.0.5", "v1.0.1": "1.0.1", "latest": "1.1.0"} {
		got, err := f.in.Ensure(context.Background(), fakeAgent{}, want)
		if err != nil || got.Version != ver {
			t.Errorf("Ensure(%q) = %+v, %v; want version %s", want, got, err, ver)
		}
	}
	cached := f.in.Cached("fake")
	var vs []string
	for _, c := range cached {
		vs = append(vs, c.Version)
	}
	if strings.Join(vs, " ") != "2.0.0-beta.1 1.1.0 1.0.5 1.0.1" {
		t.Fatalf("Cached = %q, want newest first", vs)
	}
}

func TestInstallUnknownVersionLeavesNothing(t *testing.T) {
	f := newFixture(t)
	_, err := f.in.Ensure(context.Background(), fakeAgent{}, "9.9.9")
	if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), `no version "9.9.9" of fake-pkg`) {
		t.Fatalf("err = %v", err)
	}
	if c := f.in.Cached("fake"); len(c) != 0 || len(leftovers(t, f.in)) != 0 {
		t.Fatalf("left behind: %v %v", c, leftovers(t, f.in))
	}
	// A tag the registry does not know is the same error, from npm view.
	if _, err := f.in.Ensure(context.Background(), fakeAgent{}, "nope"); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("unknown tag: %v", err)
	}
	// Another npm failure says what npm said, in one line.
	_, err = f.in.Ensure(context.Background(), fakeAgent{}, "6.6.6")
	if err == nil || errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "syscall open") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
	if len(leftovers(t, f.in)) != 0 {
		t.Fatalf("left behind: %v", leftovers(t, f.in))
	}
}

func TestInstallInterruptedLeavesNothing(t *testing.T) {
	f := newFixture(t)
	t.Setenv("FAKE_NPM_SLEEP", "5")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.in.Ensure(ctx, fakeAgent{}, "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("npm was not stopped: took %s", time.Since(start))
	}
	if c := f.in.Cached("fake"); len(c) != 0 || len(leftovers(t, f.in)) != 0 {
		t.Fatalf("left behind: %v %v", c, leftovers(t, f.in))
	}
	// A temporary folder left by a killed paddock is cleared by the next install.
	os.MkdirAll(filepath.Join(f.in.Root, "fake", ".tmp-1.0.0-123", "node_modules"), 0o755)
	t.Setenv("FAKE_NPM_SLEEP", "0")
	t.Setenv("FAKE_NPM_REGISTRY", "")
	if _, err := f.in.Ensure(context.Background(), fakeAgent{}, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if l := leftovers(t, f.in); len(l) != 0 {
		t.Fatalf("left behind: %v", l)
	}
}

func TestInstallConcurrentOnce(t *testing.T) {
	f := newFixture(t)
	t.Setenv("FAKE_NPM_SLEEP", "0.5")
	var wg sync.WaitGroup
	res := make([]Installed, 4)
	errs := make([]error, 4)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &Installer{Root: f.in.Root, NPM: f.in.NPM, Sandbox: f.in.Sandbox, verify: f.in.verify, distTag: noRegistry}
			res[i], errs[i] = in.Ensure(context.Background(), fakeAgent{}, "1.0.0")
		}()
	}
	wg.Wait()
	for i := range res {
		if errs[i] != nil || res[i] != res[0] {
			t.Fatalf("install %d: %+v %v", i, res[i], errs[i])
		}
	}
	if n := f.calls("install"); n != 1 {
		t.Fatalf("npm install ran %d times, want 1", n)
	}
}

func TestOfflineUsesNewestCached(t *testing.T) {
	f := newFixture(t)
	t.Setenv("FAKE_NPM_OFFLINE", "1")
	_, err := f.in.Ensure(context.Background(), fakeAgent{}, "")
	if err == nil || !strings.Contains(err.Error(), "ENOTFOUND") && !strings.Contains(err.Error(), "network") {
		t.Fatalf("offline without a cache: %v", err)
	}
	for _, v := range []string{"1.0.0", "1.10.0", "1.9.0"} {
		os.MkdirAll(filepath.Join(f.in.Root, "fake", v, "node_modules", ".bin"), 0o755)
	}
	var progress strings.Builder
	f.in.Progress = &progress
	got, err := f.in.Ensure(context.Background(), fakeAgent{}, "")
	if err != nil || got.Version != "1.10.0" {
		t.Fatalf("offline with a cache = %+v, %v", got, err)
	}
	if !strings.Contains(progress.String(), "using the newest installed version, 1.10.0") {
		t.Fatalf("no warning: %q", progress.String())
	}
	// From then on that version starts without asking the registry (the daily check aside).
	views := f.calls("view")
	if got, err := f.in.Ensure(context.Background(), fakeAgent{}, ""); err != nil || got.Version != "1.10.0" || f.calls("view") != views {
		t.Fatalf("second start = %+v, %v (registry asked: %v)", got, err, f.calls("view") != views)
	}
}

func TestNoNPM(t *testing.T) {
	in := &Installer{Root: t.TempDir(), NPM: "/nonexistent/npm", Sandbox: &hostSandbox{}, distTag: noRegistry}
	if _, err := in.Ensure(context.Background(), fakeAgent{}, "1.0.0"); !errors.Is(err, ErrNoNPM) {
		t.Fatalf("err = %v", err)
	}
}

// TestDistTagFromRegistry: the latest version (and another dist-tag) is asked of the user's
// registry in one request, without npm view; a registry that does not answer such a request
// (one that wants a token, say) has npm asked instead.
func TestDistTagFromRegistry(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		st := status
		mu.Unlock()
		if st != http.StatusOK {
			http.Error(w, "no", st)
			return
		}
		switch r.URL.EscapedPath() {
		case "/fake-pkg/latest":
			fmt.Fprint(w, `{"name": "fake-pkg", "version": "1.2.0", "dist": {}}`)
		case "/fake-pkg/next":
			fmt.Fprint(w, `{"name": "fake-pkg", "version": "2.0.0-rc.1"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := newFixture(t)
	f.in.distTag = nil // the real request
	t.Setenv("FAKE_NPM_REGISTRY", srv.URL+"/")
	got, err := f.in.Ensure(context.Background(), fakeAgent{}, "")
	if err != nil || got.Version != "1.2.0" {
		t.Fatalf("Ensure latest = %+v, %v; want 1.2.0 from the registry", got, err)
	}
	if n := f.calls("view"); n != 0 {
		t.Errorf("npm view ran %d times though the registry answered", n)
	}
	if v, err := f.in.resolve(context.Background(), fakeAgent{}, "next", f.in.readConfig(context.Background())); err != nil || v != "2.0.0-rc.1" {
		t.Errorf("next = %q, %v", v, err)
	}
	mu.Lock()
	if !slices.Equal(paths, []string{"/fake-pkg/latest", "/fake-pkg/next"}) {
		t.Errorf("the registry was asked %v", paths)
	}
	status = http.StatusUnauthorized
	mu.Unlock()
	// A range is npm's to resolve; a registry that refuses has npm asked.
	f2 := newFixture(t)
	f2.in.distTag = nil
	t.Setenv("FAKE_NPM_REGISTRY", srv.URL+"/")
	if v, err := f2.in.resolve(context.Background(), fakeAgent{}, "next", f2.in.readConfig(context.Background())); err != nil || v != "2.0.0-beta.1" || f2.calls("view") != 1 {
		t.Errorf("with the registry refusing: %q, %v, %d views; want npm view's 2.0.0-beta.1", v, err, f2.calls("view"))
	}
	if v, err := f2.in.resolve(context.Background(), fakeAgent{}, "^1.0", f2.in.readConfig(context.Background())); err != nil || v != "1.0.5" || f2.calls("view") != 2 {
		t.Errorf("a range: %q, %v, %d views; want npm view's 1.0.5", v, err, f2.calls("view"))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 3 {
		t.Errorf("the registry was asked %v: a range is not a dist-tag", paths)
	}
}

func TestRegistryFor(t *testing.T) {
	s := npmSettings{Registry: "https://r.example/", Lines: []string{"registry=https://r.example/", "@corp:registry=https://corp.example/npm/"}}
	for pkg, want := range map[string]string{
		"@corp/tool":                "https://corp.example/npm/",
		"@anthropic-ai/claude-code": "https://r.example/",
		"opencode-ai":               "https://r.example/",
	} {
		if got := s.registryFor(pkg); got != want {
			t.Errorf("registryFor(%s) = %s, want %s", pkg, got, want)
		}
	}
}
