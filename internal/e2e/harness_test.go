// Package e2e drives the built paddock binary end to end: real namespaces, mounts, processes,
// as root and as an unprivileged user that the tests create.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/testroot"
)

// testUser is the unprivileged account the rootless runs use.
const testUser = "paddock-e2e"

var (
	binary  string // the paddock binary under test
	baseDir string // world-traversable folder holding every test's files
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if !suiteEnabled {
		// The end-to-end suite is behind a build tag: `go test ./...` as an ordinary user runs
		// the unit tests; scripts/test.sh runs everything.
		fmt.Println("the end-to-end suite runs with -tags e2e, as root: sudo bash scripts/test.sh")
		return 0
	}
	var err error
	baseDir, err = os.MkdirTemp("", "paddock-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(baseDir)
	os.Chmod(baseDir, 0o755)
	binary = filepath.Join(baseDir, "paddock")
	if dir := os.Getenv("PADDOCK_E2E_BINDIR"); dir != "" {
		// Prebuilt (the VM lane copies the binaries and a compiled test binary into a VM).
		binary = filepath.Join(dir, "paddock")
	} else {
		// Built as users are told to build it: static, so no dynamic loader is mapped in every process.
		// Both executables, side by side: paddock hands registry and Docker work to paddock-oci.
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", baseDir+"/", "../../cmd/paddock", "../../cmd/paddock-oci")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building paddock:", err)
			return 1
		}
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup(testUser); err != nil {
			out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/bash", testUser).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "creating user %s: %v: %s\n", testUser, err, out)
				return 1
			}
		}
	}
	return m.Run()
}

// mode is who runs paddock: root, or an ordinary user (rootless).
type mode string

const (
	asRoot     mode = "root"
	asRootless mode = "rootless"
)

// requireRoot stops the test when not root: it fails in CI, skips elsewhere (internal/testroot).
func requireRoot(t testing.TB) {
	testroot.Require(t, "sandboxes as root and as a user the suite creates")
}

// rootlessLimits reports whether an unprivileged user's sandboxes get memory and CPU limits
// here, as the test user sees it (paddock doctor's verdict).
func rootlessLimits() bool {
	u, err := user.Lookup(testUser)
	if err != nil {
		return false
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(binary, "doctor", "--json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Env = []string{"HOME=" + u.HomeDir, "PATH=/usr/bin:/bin"}
	out, _ := cmd.Output()
	return strings.Contains(string(out), `"limits": true`)
}

// forEachMode runs fn once as root and once as the unprivileged test user.
func forEachMode(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, m := range []mode{asRoot, asRootless} {
		t.Run(string(m), func(t *testing.T) {
			fn(t, newEnv(t, m))
		})
	}
}

// env is one isolated paddock installation: its own PADDOCK_HOME, home folder and git identity.
type env struct {
	t     testing.TB
	mode  mode
	dir   string // the test's scratch folder, owned by the user paddock runs as
	home  string // HOME of the paddock user
	phome string // PADDOCK_HOME
	uid   int
	gid   int
	extra []string // extra environment
	// groups are supplementary groups of the rootless user's paddock (e.g. docker's, for the
	// Docker backend as an ordinary user).
	groups []uint32
}

func newEnv(t testing.TB, m mode) *env {
	t.Helper()
	requireRoot(t)
	dir, err := os.MkdirTemp(baseDir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	e := &env{t: t, mode: m, dir: dir, home: filepath.Join(dir, "home"), phome: filepath.Join(dir, "paddock-home")}
	if m == asRootless {
		u, err := user.Lookup(testUser)
		if err != nil {
			t.Fatal(err)
		}
		e.uid, _ = strconv.Atoi(u.Uid)
		e.gid, _ = strconv.Atoi(u.Gid)
		if !rootlessLimits() {
			// This host cannot limit an ordinary user's sandboxes (cgroup v1, or v2 without
			// delegation): paddock refuses unless told to run without memory and CPU limits.
			e.extra = append(e.extra, "PADDOCK_UNSAFE_NO_LIMITS=1")
		}
	}
	os.Chown(dir, e.uid, e.gid)
	e.mkdir(e.home)
	e.writeFile(filepath.Join(e.home, ".gitconfig"), "[user]\n\tname = Paddock Tester\n\temail = tester@paddock.test\n")
	t.Cleanup(func() {
		// A sandbox left running outlives the test (its supervisor, its processes).
		if r := e.run("", "rm", "-f", "--all"); r.code != 0 {
			t.Errorf("cleanup: paddock rm -f --all: %s", r)
		}
		os.RemoveAll(dir)
	})
	return e
}

// mkdir creates a folder owned by the paddock user.
func (e *env) mkdir(p string) string {
	e.t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		e.t.Fatal(err)
	}
	os.Chown(p, e.uid, e.gid)
	return p
}

// workspace creates a project folder for the test.
func (e *env) workspace(name string) string {
	return e.mkdir(filepath.Join(e.dir, name))
}

func (e *env) writeFile(p, content string) {
	e.t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	os.Chown(p, e.uid, e.gid)
}

// result is what a paddock command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// command prepares a paddock invocation in folder dir, as the env's user.
func (e *env) command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	if dir == "" {
		dir = e.dir
	}
	cmd.Dir = dir
	cmd.Env = append([]string{"HOME=" + e.home, "PADDOCK_HOME=" + e.phome,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}, e.extra...)
	if e.mode == asRootless {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uid), Gid: uint32(e.gid), Groups: e.groups}}
	}
	return cmd
}

// run runs paddock in dir with no stdin and returns what it printed and its exit code.
func (e *env) run(dir string, args ...string) result {
	return e.runInput(dir, "", args...)
}

func (e *env) runInput(dir, stdin string, args ...string) result {
	e.t.Helper()
	cmd := e.command(dir, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		// Where it hangs: the Go runtime prints every goroutine's stack on SIGQUIT.
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		e.t.Fatalf("paddock %s: timed out\nstderr: %s\n%s", strings.Join(args, " "), errb.String(), e.diagnostics())
	}
	return result{stdout: out.String(), stderr: errb.String(), code: cmd.ProcessState.ExitCode()}
}

// diagnostics describes the env's sandboxes for a failure report: their supervisors' logs and
// the paddock processes alive.
func (e *env) diagnostics() string {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(e.phome, "sandboxes", "*", "supervisor.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", l, data)
	}
	ps, _ := exec.Command("ps", "-eo", "pid,ppid,stat,wchan:20,args").Output()
	for _, line := range strings.Split(string(ps), "\n") {
		if strings.Contains(line, "paddock") {
			fmt.Fprintln(&b, line)
		}
	}
	return b.String()
}

// ok runs paddock and fails the test unless it exits 0; it returns stdout.
func (e *env) ok(dir string, args ...string) string {
	e.t.Helper()
	r := e.run(dir, args...)
	if r.code != 0 {
		e.t.Fatalf("paddock %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// sandboxDirs lists the sandbox folders in the env's PADDOCK_HOME.
func (e *env) sandboxDirs() []string {
	entries, _ := os.ReadDir(filepath.Join(e.phome, "sandboxes"))
	var out []string
	for _, en := range entries {
		if en.IsDir() {
			out = append(out, en.Name())
		}
	}
	return out
}
