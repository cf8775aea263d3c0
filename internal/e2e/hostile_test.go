package e2e

// The hostile battery: real attempts, from inside a sandbox, to get out of it or to hurt the host
// or another sandbox, each asserted to fail on its concrete outcome (the errno, an empty read, a
// missing file, the exit status, the host-side file left unchanged). The probes run in four
// configurations: paddock as root and as an ordinary user (forEachMode), each with the agent as
// root inside the sandbox and as a non-root user (`exec -u 1000`). Then the resource attacks (a
// fork bomb, a memory bomb, a full disk) and the fault cases (SIGKILL of the CLI, the supervisor
// and the init at each lifecycle step, checked for leaked mounts, processes and cgroups and for a
// byte-for-byte intact workspace).
//
// A failure here names the probe and the configuration; "ESCAPE" in the message means the
// sandbox got something it must not have.
//
// Every helper in this file is prefixed with "hos" so that it cannot clash with other test files
// of the package. Raw system calls go through testdata/hostile_probe.py (python3 with ctypes, from
// the host template).

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ---------------------------------------------------------------------------------------------
// configurations and host fixtures

// hosUser is who the agent is inside the sandbox.
type hosUser struct {
	label string
	uid   string // "" for root (exec's default), else the uid passed to `exec -u`
}

var hosUsers = []hosUser{{"sandbox-root", ""}, {"sandbox-uid1000", "1000"}}

// hosHost holds what the host side sets up for one mode: secrets the sandbox must not read,
// processes and sockets it must not reach, and the host state its attempts must leave unchanged.
type hosHost struct {
	secret     string // content of every secret marker file
	markerName string
	rootMarker string // in the host's /root
	userMarker string // in the test user's host home
	envMarker  string // in the HOME of the user paddock runs as
	sshKey     string // a fake host SSH private key in /etc/ssh

	hostPID  int       // the test's own host process
	sleeper  *exec.Cmd // a host process the sandbox tries to kill
	loPort   int       // TCP listener on the host's 127.0.0.1
	anyPort  int       // TCP listener on all the host's addresses
	hostIP   string    // a non-loopback address of the host ("" if none)
	abstract string    // abstract unix socket of the host ("@name")
	runSock  string    // unix socket in the host's /run
	hostPTY  string    // a terminal open on the host (/dev/pts/N)

	snap map[string]string // host files whose content must not change (path -> sha256)

	other       string // name of sandbox B
	otherMarker string // host path of a secret in B's home
	otherState  string // B's state folder
}

// hosCtx is one configuration: a mode, a user inside, and the sandbox the probes run in.
type hosCtx struct {
	t       *testing.T
	e       *env
	h       *hosHost
	user    hosUser
	uid     string // the uid used with exec -u ("" = root)
	name    string // the sandbox
	id      string
	ws      string // its workspace (same path inside)
	scratch string // ws/.hostile, writable by every user inside
	vol     string // a -v folder (same path inside)
	probe   string // "python3 <path of hostile_probe.py>"
	tag     string // unique per configuration, for file names
}

// hosProbe is one attempt: a shell script run inside, and a check of what happened.
type hosProbe struct {
	name   string
	only   string   // "" for every user, else the hosUser label it applies to
	tty    bool     // run through `exec -it` on a pseudo-terminal
	onTTY  bool     // run through plain `exec` with the host's pseudo-terminal as its stdio
	env    []string // extra environment of the paddock CLI that runs it
	script string
	check  hosCheck
}

// hosCheck returns "" when the fence held, else what went wrong.
type hosCheck func(c *hosCtx, r result) string

func hosRandom() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func hosSHA(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// hosWrite writes a host file (creating its folder) and removes it when the test ends.
func hosWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatalf("writing host fixture %s: %v", path, err)
	}
	os.Chmod(path, mode)
	t.Cleanup(func() { os.Remove(path) })
}

// hosListen serves a greeting on a listener until the test ends.
func hosListen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listening on %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host-listener-reached\n"))
			c.Close()
		}
	}()
	return ln
}

// hosSSHKey plants a fake SSH host private key, world-readable so that only paddock's mask can
// keep it from the sandbox, for the whole test.
func hosSSHKey(t *testing.T, secret string) string {
	t.Helper()
	dir := "/etc/ssh"
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(dir) })
	}
	key := filepath.Join(dir, "ssh_host_paddocktest_key")
	hosWrite(t, key, "-----BEGIN OPENSSH PRIVATE KEY-----\n"+secret+"\n-----END OPENSSH PRIVATE KEY-----\n", 0o644)
	return key
}

func hosHostIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// hosFixtures sets up the host side of one mode.
func hosFixtures(t *testing.T, e *env, secret, sshKey string) *hosHost {
	t.Helper()
	h := &hosHost{secret: secret, markerName: "paddock-hostile-" + hosRandom(), sshKey: sshKey, hostPID: os.Getpid()}
	h.rootMarker = filepath.Join("/root", h.markerName)
	h.userMarker = filepath.Join("/home", testUser, h.markerName)
	h.envMarker = filepath.Join(e.home, h.markerName)
	// World-readable: only the sandbox's view of the file system may keep them out.
	for _, p := range []string{h.rootMarker, h.userMarker, h.envMarker} {
		hosWrite(t, p, secret+"\n", 0o644)
	}

	h.sleeper = exec.Command("sleep", "300")
	if err := h.sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.sleeper.Process.Kill(); h.sleeper.Wait() })

	h.loPort = hosListen(t, "tcp", "127.0.0.1:0").Addr().(*net.TCPAddr).Port
	h.anyPort = hosListen(t, "tcp", "0.0.0.0:0").Addr().(*net.TCPAddr).Port
	h.hostIP = hosHostIP()
	h.abstract = "@" + h.markerName
	hosListen(t, "unix", h.abstract)
	h.runSock = filepath.Join("/run", h.markerName+".sock")
	hosListen(t, "unix", h.runSock)
	t.Cleanup(func() { os.Remove(h.runSock) })

	ptm, pts, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a host terminal: %v", err)
	}
	t.Cleanup(func() { ptm.Close(); pts.Close() })
	h.hostPTY = pts.Name()

	h.snap = map[string]string{}
	for _, p := range []string{"/etc/passwd", "/usr/bin/env", "/proc/sys/kernel/core_pattern",
		"/sys/kernel/mm/transparent_hugepage/enabled", "/sys/fs/cgroup/memory/release_agent", binary} {
		if _, err := os.Stat(p); err == nil {
			h.snap[p] = hosSHA(p)
		}
	}
	return h
}

// hosStartOther starts sandbox B, with a secret in its home and a distinctive `sleep 4242`.
func hosStartOther(t *testing.T, e *env, h *hosHost) {
	t.Helper()
	ws := e.workspace("other-" + hosRandom())
	h.other = procDetach(t, e, ws)
	r, err := procRun(e, ws, "", 30*time.Second, "exec", h.other, "sh", "-c",
		"echo other-sandbox-secret > ~/hostile-other-marker && (sleep 4242 >/dev/null 2>&1 &) && echo started")
	if err != nil || r.code != 0 || r.stdout != "started\n" {
		t.Fatalf("starting sandbox B's sleep: %v %s", err, r)
	}
	st := procRunning(t, e, h.other)
	h.otherState = st.Paths["state"]
	h.otherMarker = filepath.Join(st.Paths["home"], "hostile-other-marker")
	if b, err := os.ReadFile(h.otherMarker); err != nil || !strings.Contains(string(b), "other-sandbox-secret") {
		t.Fatalf("sandbox B's marker is not at %s on the host: %v", h.otherMarker, err)
	}
	if !procWait(5*time.Second, func() bool { return hosFindCmdline("sleep 4242") > 0 }) {
		t.Fatalf("sandbox B's `sleep 4242` is not running on the host")
	}
}

// hosFindCmdline returns a host pid whose command line is exactly cmd (0 if none).
func hosFindCmdline(cmd string) int {
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ") == cmd {
			return pid
		}
	}
	return 0
}

// hosNewConfig creates the sandbox of one configuration, with a -v folder, the probe helper and
// the host-planted symlinks in its workspace.
func hosNewConfig(t *testing.T, e *env, h *hosHost, u hosUser) *hosCtx {
	t.Helper()
	c := &hosCtx{t: t, e: e, h: h, user: u, uid: u.uid, tag: u.label + "-" + hosRandom()}
	c.ws = e.workspace("hostile-" + c.tag)
	c.vol = e.mkdir(filepath.Join(e.dir, "hostile-vol-"+c.tag))
	c.scratch = e.mkdir(filepath.Join(c.ws, ".hostile"))
	for _, d := range []string{c.scratch, c.vol} {
		os.Chmod(d, 0o777) // the non-root user inside may write here too
	}
	src, err := os.ReadFile("testdata/hostile_probe.py")
	if err != nil {
		t.Fatal(err)
	}
	e.writeFile(filepath.Join(c.scratch, "hostile_probe.py"), string(src))
	c.probe = "python3 " + filepath.Join(c.scratch, "hostile_probe.py")

	// Symlinks planted on the host side, pointing at host secrets: inside they must resolve in the
	// sandbox's own view, never to the host's files.
	links := e.mkdir(filepath.Join(c.scratch, "hostlinks"))
	for name, target := range map[string]string{"root-marker": h.rootMarker, "user-marker": h.userMarker,
		"env-marker": h.envMarker, "shadow": "/etc/shadow", "other-sandbox": h.otherMarker, "ssh-key": h.sshKey,
		"host-root": "/", "paddock-home": e.phome} {
		if err := os.Symlink(target, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
		os.Lchown(filepath.Join(links, name), e.uid, e.gid)
	}

	// Created and started, with no background session: its /dev/pts holds no terminal at all.
	out, err := procRun(e, c.ws, "", 30*time.Second, "create", "-v", c.vol, "shell")
	if err != nil || out.code != 0 {
		t.Fatalf("creating the probe sandbox: %v %s", err, out)
	}
	c.name = strings.TrimSpace(out.stdout)
	if out, err := procRun(e, c.ws, "", 30*time.Second, "start", c.name); err != nil || out.code != 0 {
		t.Fatalf("starting the probe sandbox: %v %s", err, out)
	}
	c.id = procRunning(t, e, c.name).ID
	if u.uid != "" {
		// The host template shows the host's /etc/passwd; without a uid 1000 there, use nobody.
		if r, _ := procRun(e, c.ws, "", 10*time.Second, "exec", c.name, "getent", "passwd", u.uid); r.code != 0 {
			c.uid = "65534"
		}
		// A set-user-ID root shell made by root inside: the non-root user must not gain from it.
		// (The seccomp filter already refuses the setuid bit; the copy is then a plain shell, and
		// the setuid-file-for-the-host probe asserts the refusal.)
		r, err := procRun(e, c.ws, "", 10*time.Second, "exec", c.name, "sh", "-c",
			"cp /bin/bash /tmp/hostile-suid && { chmod 4755 /tmp/hostile-suid 2>/dev/null || true; } && echo ok")
		if err != nil || r.stdout != "ok\n" {
			t.Fatalf("preparing the setuid shell as root inside: %v %s", err, r)
		}
	}
	return c
}

// exec runs a probe in the configuration's sandbox, as its user.
func (c *hosCtx) exec(t *testing.T, p hosProbe) result {
	args := []string{"exec"}
	if p.tty {
		args = append(args, "-it")
	}
	if c.uid != "" {
		args = append(args, "-u", c.uid)
	}
	args = append(args, c.name, "sh", "-c", p.script)
	if p.tty || p.onTTY {
		pt := procStartPTY(t, c.e, c.ws, 24, 80, args...)
		code := pt.wait(20*time.Second, p.name)
		time.Sleep(50 * time.Millisecond) // let the reader collect the last output
		return result{stdout: pt.output(), code: code}
	}
	e := *c.e
	e.extra = append(append([]string{}, c.e.extra...), p.env...)
	r, err := procRun(&e, c.ws, "", 20*time.Second, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return r
}

// ---------------------------------------------------------------------------------------------
// checks

func hosAll(cs ...hosCheck) hosCheck {
	return func(c *hosCtx, r result) string {
		var msgs []string
		for _, ch := range cs {
			if m := ch(c, r); m != "" {
				msgs = append(msgs, m)
			}
		}
		return strings.Join(msgs, "; ")
	}
}

// hosResultLine is one "NAME: RESULT" line of the probe helper; on a terminal, a character the
// probe injected may precede it.
var hosResultLine = regexp.MustCompile(`(?m)([A-Za-z0-9_]+): (ok|E[A-Z0-9]+)(.*)$`)

// hosResults parses the probe helper's "NAME: RESULT" lines (a name may appear more than once).
func hosResults(out string) map[string][]string {
	m := map[string][]string{}
	for _, g := range hosResultLine.FindAllStringSubmatch(strings.ReplaceAll(out, "\r", ""), -1) {
		m[g[1]] = append(m[g[1]], strings.TrimSpace(g[2]+g[3]))
	}
	return m
}

// hosErrno wants every named attempt to have failed with one of the allowed errnos.
func hosErrno(names []string, allowed ...string) hosCheck {
	return func(c *hosCtx, r result) string {
		res := hosResults(r.stdout)
		var msgs []string
		for _, n := range names {
			vs := res[n]
			if len(vs) == 0 {
				msgs = append(msgs, n+": no result (the attempt did not run)")
				continue
			}
			for _, v := range vs {
				f := strings.Fields(v)
				switch {
				case f[0] == "ok":
					msgs = append(msgs, "ESCAPE: "+n+" succeeded ("+v+")")
				case !hosIn(f[0], allowed):
					msgs = append(msgs, fmt.Sprintf("%s failed with %s, want %s", n, f[0], strings.Join(allowed, " or ")))
				}
			}
		}
		return strings.Join(msgs, "; ")
	}
}

func hosIn(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

// hosSys is a probe of named raw system calls that must all fail with one of the errnos.
func hosSys(name string, calls []string, allowed ...string) hosProbe {
	return hosProbe{name: name, script: "{{probe}} sys " + strings.Join(calls, " "), check: hosErrno(calls, allowed...)}
}

// hosLacks wants none of the strings in the output.
func hosLacks(subs ...string) hosCheck {
	return func(c *hosCtx, r result) string {
		all := r.stdout + r.stderr
		for _, s := range subs {
			if s != "" && strings.Contains(all, s) {
				return fmt.Sprintf("ESCAPE: the output shows %q", s)
			}
		}
		return ""
	}
}

// hosNoLine wants no output line equal to s (a listing that shows a host file).
func hosNoLine(s string) hosCheck {
	return func(c *hosCtx, r result) string {
		for _, l := range strings.Split(r.stdout+"\n"+r.stderr, "\n") {
			if strings.TrimSpace(l) == s {
				return fmt.Sprintf("ESCAPE: a listing shows %q", s)
			}
		}
		return ""
	}
}

// hosHas wants each pattern in stdout+stderr.
func hosHas(patterns ...string) hosCheck {
	return func(c *hosCtx, r result) string {
		all := r.stdout + r.stderr
		var missing []string
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(all) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("want output matching %q", missing)
		}
		return ""
	}
}

// hosEvery wants every line "rc=N" the script printed to be non-zero (each attempt failed), and
// at least n of them.
func hosEvery(n int) hosCheck {
	return func(c *hosCtx, r result) string {
		rcs := regexp.MustCompile(`(?m)^rc=(\d+)`).FindAllStringSubmatch(r.stdout, -1)
		if len(rcs) < n {
			return fmt.Sprintf("want %d attempts reported (rc=N lines), got %d", n, len(rcs))
		}
		for i, m := range rcs {
			if m[1] == "0" {
				return fmt.Sprintf("ESCAPE: attempt #%d succeeded (rc=0)", i+1)
			}
		}
		return ""
	}
}

// hosFailsWith: hosEvery(n) and each error text one of the given (the concrete errno text).
func hosFailsWith(n int, texts ...string) hosCheck {
	re := "(" + strings.Join(texts, "|") + ")"
	return func(c *hosCtx, r result) string {
		if m := hosEvery(n)(c, r); m != "" {
			return m
		}
		all := r.stdout + r.stderr
		if got := len(regexp.MustCompile(re).FindAllString(all, -1)); got < n {
			return fmt.Sprintf("want %d failures reading %s, found %d", n, re, got)
		}
		return ""
	}
}

// hosHostAbsent wants host paths not to exist (the sandbox did not create them).
func hosHostAbsent(paths ...func(c *hosCtx) string) hosCheck {
	return func(c *hosCtx, r result) string {
		for _, p := range paths {
			if _, err := os.Lstat(p(c)); err == nil {
				return "ESCAPE: the sandbox created " + p(c) + " on the host"
			}
		}
		return ""
	}
}

// hosUnchanged wants the snapshotted host files unchanged.
func hosUnchanged(paths ...string) hosCheck {
	return func(c *hosCtx, r result) string {
		for _, p := range paths {
			want, ok := c.h.snap[p]
			if !ok {
				continue
			}
			if got := hosSHA(p); got != want {
				return "ESCAPE: host file " + p + " changed"
			}
		}
		return ""
	}
}

// hosEmpty wants "bytes=0" for every "bytes=" the script printed, and at least n of them.
func hosEmpty(n int) hosCheck {
	return func(c *hosCtx, r result) string {
		ms := regexp.MustCompile(`(?m)^bytes=(\S*) (\S+)$`).FindAllStringSubmatch(r.stdout, -1)
		if len(ms) < n {
			return fmt.Sprintf("want %d sizes reported, got %d", n, len(ms))
		}
		for _, m := range ms {
			if m[1] != "0" {
				return fmt.Sprintf("ESCAPE: %s reads %s bytes, want 0 (masked)", m[2], m[1])
			}
		}
		return ""
	}
}

// hosCaps wants none of the dangerous capabilities in any set, and none at all effective for a
// non-root user.
func hosCaps(c *hosCtx, r result) string {
	dangerous := map[string]uint{"CAP_DAC_READ_SEARCH": 2, "CAP_NET_ADMIN": 12, "CAP_SYS_MODULE": 16,
		"CAP_SYS_RAWIO": 17, "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_RESOURCE": 24,
		"CAP_SYS_TIME": 25, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_PERFMON": 38, "CAP_BPF": 39}
	sets := map[string]uint64{}
	for _, l := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.HasPrefix(k, "Cap") {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err == nil {
				sets[k] = n
			}
		}
	}
	if len(sets) != 5 {
		return fmt.Sprintf("want the five Cap lines of /proc/self/status, got %v", sets)
	}
	var msgs []string
	for set, v := range sets {
		for name, bit := range dangerous {
			if v&(1<<bit) != 0 {
				msgs = append(msgs, fmt.Sprintf("ESCAPE: %s has %s", set, name))
			}
		}
	}
	if c.uid != "" && (sets["CapEff"] != 0 || sets["CapPrm"] != 0) {
		msgs = append(msgs, fmt.Sprintf("ESCAPE: a non-root user has capabilities (CapEff %x, CapPrm %x)", sets["CapEff"], sets["CapPrm"]))
	}
	sort.Strings(msgs)
	return strings.Join(msgs, "; ")
}

// hosNoSetIDOnHost: a file the sandbox made set-user-ID or set-group-ID must not, on the host,
// run as a real host account: as root (uid/gid 0) or any account of the host's passwd/group.
// In rootless mode the paddock user's own ids are fine (root inside is that user).
func hosNoSetIDOnHost(rel string) hosCheck {
	return func(c *hosCtx, r result) string {
		p := filepath.Join(c.scratch, rel+"-"+c.tag)
		if strings.HasPrefix(rel, "vol:") {
			p = filepath.Join(c.vol, strings.TrimPrefix(rel, "vol:")+"-"+c.tag)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return "" // not even made
		}
		defer os.Remove(p) // do not leave a working set-ID program lying around
		real := func(id uint32, own int, lookup func(string) error) bool {
			if c.e.mode == asRootless && int(id) == own {
				return false
			}
			return id == 0 || lookup(strconv.Itoa(int(id))) == nil
		}
		lookupUser := func(s string) error { _, err := user.LookupId(s); return err }
		lookupGroup := func(s string) error { _, err := user.LookupGroupId(s); return err }
		var msgs []string
		if st.Mode&syscall.S_ISUID != 0 && real(st.Uid, c.e.uid, lookupUser) {
			msgs = append(msgs, fmt.Sprintf("ESCAPE: the sandbox made %s set-user-ID host uid %d (mode %o): any host user who runs it becomes uid %d",
				p, st.Uid, st.Mode&0o7777, st.Uid))
		}
		if st.Mode&syscall.S_ISGID != 0 && st.Mode&0o010 != 0 && real(st.Gid, c.e.gid, lookupGroup) {
			msgs = append(msgs, fmt.Sprintf("ESCAPE: the sandbox made %s set-group-ID host gid %d (mode %o)", p, st.Gid, st.Mode&0o7777))
		}
		return strings.Join(msgs, "; ")
	}
}

// hosNoHostFileCaps: a file the sandbox gave capabilities must not carry them for the host: no
// v2 security.capability (valid in every namespace) and no v3 one whose root is host uid 0.
func hosNoHostFileCaps(rel string) hosCheck {
	return func(c *hosCtx, r result) string {
		p := filepath.Join(c.vol, rel+"-"+c.tag)
		defer os.Remove(p)
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(p, "security.capability", buf)
		if err != nil {
			return "" // no file, or no capabilities
		}
		if n < 4 {
			return ""
		}
		magic := hosLE32(buf[0:4])
		switch magic & 0xFF000000 {
		case 0x02000000:
			return fmt.Sprintf("ESCAPE: the sandbox gave %s host-wide (v2) file capabilities: any host user who runs it gets them", p)
		case 0x03000000:
			if n >= 24 && hosLE32(buf[20:24]) == 0 {
				return fmt.Sprintf("ESCAPE: the sandbox gave %s file capabilities rooted at host uid 0", p)
			}
		}
		return ""
	}
}

func hosLE32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// hosHostCheck wraps a host-side check.
func hosHostCheck(fn func(c *hosCtx) string) hosCheck {
	return func(c *hosCtx, r result) string { return fn(c) }
}

// ---------------------------------------------------------------------------------------------
// the probes

// hosRC follows a command with "rc=$?", so that each attempt's exit status is checked.
const hosRC = `; echo "rc=$?"`

// hosProbes is the table of probes. Scripts may use {{probe}} (the helper), {{scratch}}, {{vol}}
// and {{tag}}, which hosExpand fills in; host-side values are formatted in directly.
func hosProbes(c *hosCtx) []hosProbe {
	h := c.h
	scr := func(rel string) func(*hosCtx) string {
		return func(c *hosCtx) string { return filepath.Join(c.scratch, rel+"-"+c.tag) }
	}
	volp := func(rel string) func(*hosCtx) string {
		return func(c *hosCtx) string { return filepath.Join(c.vol, rel+"-"+c.tag) }
	}
	hostOnly := func(p string) func(*hosCtx) string { return func(*hosCtx) string { return p } }
	bytesOf := func(paths ...string) string {
		var b strings.Builder
		for _, p := range paths {
			fmt.Fprintf(&b, "echo \"bytes=$(head -c 65536 %s 2>/dev/null | wc -c) %s\"\n", p, p)
		}
		return b.String()
	}
	secrets := []string{h.secret, "other-sandbox-secret"}
	enoent := []string{"ENOENT"}

	probes := []hosProbe{
		// --- host secrets
		{name: "read-etc-shadow", script: "cat /etc/shadow\n" + bytesOf("/etc/shadow"),
			check: hosAll(hosEmpty(1), hosLacks("root:"))},
		{name: "read-etc-gshadow", script: "cat /etc/gshadow\n" + bytesOf("/etc/gshadow"),
			check: hosAll(hosEmpty(1), hosLacks("root:"))},
		{name: "read-ssh-host-private-key", script: "cat " + h.sshKey + "\n" + bytesOf(h.sshKey),
			check: hosAll(hosEmpty(1), hosLacks(secrets...))},
		{name: "read-another-users-home", script: fmt.Sprintf("cat %s %s 2>&1; ls -A /home /home/%s 2>&1; true", h.userMarker, h.envMarker, testUser),
			check: hosAll(hosLacks(secrets...), hosNoLine(h.markerName), hosHas("No such file or directory"))},
		{name: "read-host-root", script: fmt.Sprintf("cat %s 2>&1; ls -A /root 2>&1; true", h.rootMarker),
			check: hosAll(hosLacks(secrets...), hosNoLine(h.markerName))},
		{name: "read-through-host-planted-symlinks", script: "cd {{scratch}}/hostlinks && for l in *; do echo \"== $l\"; cat \"$l\" 2>&1 | head -c 200; ls \"$l/\" 2>&1 | head -50; done; true",
			check: hosLacks(append(secrets, h.markerName, "sandboxes", "record.json")...)},
		{name: "reach-host-run-socket", script: "ls -A /run; {{probe}} connect_unix " + h.runSock,
			check: hosAll(hosErrno([]string{"connect_unix"}, enoent...), hosLacks(h.markerName+".sock"))},
		{name: "reach-docker-socket", script: "ls -l /var/run/docker.sock /run/docker.sock 2>&1; {{probe}} connect_unix /var/run/docker.sock; {{probe}} connect_unix /run/docker.sock",
			check: hosErrno([]string{"connect_unix"}, enoent...)},

		// --- writing outside the workspace, volumes and home
		{name: "write-usr", script: "touch /usr/paddock-hostile-{{tag}}" + hosRC + "\nmkdir /usr/local/paddock-hostile-{{tag}}" + hosRC,
			check: hosAll(hosFailsWith(2, "Read-only file system", "Permission denied"),
				hosHostAbsent(hostOnly("/usr/paddock-hostile-"+c.tag), hostOnly("/usr/local/paddock-hostile-"+c.tag)))},
		{name: "append-etc-passwd", script: "echo 'hostile::0:0::/:/bin/sh' >> /etc/passwd" + hosRC + "\ntouch /etc/paddock-hostile-{{tag}}" + hosRC,
			check: hosAll(hosFailsWith(2, "Read-only file system", "Permission denied"), hosUnchanged("/etc/passwd"),
				hosHostAbsent(hostOnly("/etc/paddock-hostile-"+c.tag)))},
		{name: "write-opt", script: "mkdir /opt/paddock-hostile-{{tag}}" + hosRC,
			check: hosAll(hosFailsWith(1, "Read-only file system", "Permission denied"), hosHostAbsent(hostOnly("/opt/paddock-hostile-"+c.tag)))},
		{name: "write-root-and-boot", script: "touch /paddock-hostile-{{tag}}" + hosRC + "\nmkdir -p /boot/paddock-hostile" + hosRC,
			check: hosAll(hosFailsWith(2, "Read-only file system", "Permission denied"), hosHostAbsent(hostOnly("/paddock-hostile-"+c.tag)))},
		{name: "replace-host-binary", script: "cp /bin/true /usr/bin/env" + hosRC + "\nrm -f /usr/bin/env" + hosRC,
			check: hosAll(hosFailsWith(2, "Read-only file system", "Permission denied"), hosUnchanged("/usr/bin/env"))},
		{name: "write-lib-and-sbin", script: "touch /usr/lib/paddock-hostile-{{tag}}" + hosRC + "\ntouch /sbin/paddock-hostile-{{tag}}" + hosRC,
			check: hosAll(hosFailsWith(2, "Read-only file system", "Permission denied"),
				hosHostAbsent(hostOnly("/usr/lib/paddock-hostile-"+c.tag), hostOnly("/usr/sbin/paddock-hostile-"+c.tag)))},
		// /home is a writable tmpfs for root, /mnt and /srv folders of the sealed root: Landlock and
		// the read-only root keep writes to the workspace, volumes, home, /tmp and /var.
		{name: "write-outside-landlock-allowlist", script: "touch /home/paddock-hostile" + hosRC + "\ntouch /mnt/paddock-hostile" + hosRC + "\nmkdir /srv/paddock-hostile" + hosRC,
			check: hosFailsWith(3, "Read-only file system", "Permission denied")},

		// --- /proc and /sys
		{name: "write-proc-sys", script: "echo '|/tmp/hostile-core' > /proc/sys/kernel/core_pattern" + hosRC + "\necho 3 > /proc/sys/vm/drop_caches" + hosRC,
			check: hosAll(hosFailsWith(2, "Read-only file system", "Permission denied"), hosUnchanged("/proc/sys/kernel/core_pattern"))},
		{name: "sysrq-trigger", script: "echo h > /proc/sysrq-trigger" + hosRC + "\n" + bytesOf("/proc/sysrq-trigger"),
			check: hosAll(hosEvery(1), hosEmpty(1))},
		{name: "read-proc-kcore", script: bytesOf("/proc/kcore"), check: hosEmpty(1)},
		{name: "read-proc-kallsyms", script: bytesOf("/proc/kallsyms") + "grep -c ' T ' /proc/kallsyms 2>&1; true",
			check: hosEmpty(1)},
		{name: "read-proc-keys", script: bytesOf("/proc/keys", "/proc/key-users"), check: hosEmpty(2)},
		{name: "read-proc-timer-and-sched", script: bytesOf("/proc/timer_list", "/proc/sched_debug"), check: hosEmpty(2)},
		{name: "write-sysfs", script: "echo always > /sys/kernel/mm/transparent_hugepage/enabled" + hosRC + "\necho add > /sys/class/net/lo/uevent" + hosRC + "\necho 1 > /sys/kernel/profiling" + hosRC,
			check: hosAll(hosFailsWith(3, "Read-only file system", "Permission denied", "No such file"), hosUnchanged("/sys/kernel/mm/transparent_hugepage/enabled"))},
		{name: "remount-sys-and-proc-rw", script: "mount -o remount,rw /sys 2>&1" + hosRC + "\nmount -o remount,rw /proc/sys 2>&1" + hosRC,
			check: hosFailsWith(2, "[Pp]ermission denied", "Operation not permitted", "must be superuser")},

		// --- host processes and other sandboxes
		{name: "see-host-test-process", script: fmt.Sprintf("cat /proc/%d/cmdline 2>&1; echo; ls -d /proc/%[1]d 2>&1; kill -0 %[1]d 2>&1"+hosRC, h.hostPID),
			check: hosAll(hosEvery(1), hosLacks(filepath.Base(os.Args[0])), hosHas("No such process"))},
		{name: "kill-host-process", script: fmt.Sprintf("kill -9 %d 2>&1"+hosRC, h.sleeper.Process.Pid),
			check: hosAll(hosFailsWith(1, "No such process"), hosHostCheck(func(c *hosCtx) string {
				if err := syscall.Kill(c.h.sleeper.Process.Pid, 0); err != nil {
					return "ESCAPE: the host's sleep process is gone"
				}
				return ""
			}))},
		{name: "see-other-sandbox-process", script: `for p in /proc/[0-9]*; do [ "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" = "sleep 4242 " ] && echo "FOUND $p"; done; pgrep -x sleep -a 2>&1; echo scanned`,
			check: hosAll(hosHas("scanned"), hosLacks("FOUND", "4242"))},
		{name: "read-other-sandbox-files", script: fmt.Sprintf("cat %s 2>&1; ls -A %s %s 2>&1; true", h.otherMarker, h.otherState, c.e.phome),
			check: hosAll(hosLacks(append(secrets, "record.json", "exec.sock")...), hosHas("No such file or directory"))},
		{name: "ptrace-attach-init", script: "{{probe}} seize", check: func(c *hosCtx, r result) string {
			var names []string
			for k := range hosResults(r.stdout) {
				if strings.HasPrefix(k, "seize_1_task_") {
					names = append(names, k)
				}
			}
			if len(names) == 0 {
				return "no thread of PID 1 was tried"
			}
			sort.Strings(names)
			if m := hosErrno(names, "EPERM")(c, r); m != "" {
				return m + " (a process inside that can trace the init's threads shares the memory of its unconfined, fully capable threads)"
			}
			return ""
		}},
		{name: "write-init-memory", script: "{{probe}} open /proc/1/mem rw", check: hosErrno([]string{"open_rw"}, "EACCES", "EPERM")},
		{name: "read-init-environ-and-fds", script: "{{probe}} open /proc/1/environ r; ls -l /proc/1/fd/ 2>&1" + hosRC + "\nreadlink /proc/1/exe 2>&1" + hosRC,
			check: hosAll(hosErrno([]string{"open_r"}, "EACCES", "EPERM"), hosEvery(2), hosHas("Permission denied"), hosLacks(filepath.Dir(binary)))},
		{name: "write-host-log-through-init-fd", script: "echo hostile-{{tag}} >> /proc/1/fd/1" + hosRC + "\necho hostile-{{tag}} >> /proc/1/fd/2" + hosRC,
			check: hosAll(hosFailsWith(2, "Permission denied", "No such device"), hosHostCheck(func(c *hosCtx) string {
				b, _ := os.ReadFile(filepath.Join(c.e.phome, "sandboxes", c.id[:12], "supervisor.log"))
				if bytes.Contains(b, []byte("hostile-"+c.tag)) {
					return "ESCAPE: the sandbox wrote into its host-side supervisor.log through the init's descriptors"
				}
				return ""
			}))},
		{name: "overwrite-paddock-binary", script: "{{probe}} open /proc/1/exe w",
			check: hosAll(hosErrno([]string{"open_w"}, "EACCES", "EPERM", "ETXTBSY"), hosUnchanged(binary))},
		hosSys("read-init-memory-syscalls", []string{"process_vm_readv", "kcmp"}, "EPERM"),

		// --- mounts
		{name: "mount-tmpfs", script: "mount -t tmpfs none /mnt 2>&1" + hosRC + "\n{{probe}} sys mount",
			check: hosAll(hosEvery(1), hosErrno([]string{"mount"}, "EPERM"))},
		{name: "umount-shadow-mask", script: "umount /etc/shadow 2>&1" + hosRC + "\numount -l /etc/shadow 2>&1" + hosRC + "\n{{probe}} sys umount2\n" + bytesOf("/etc/shadow"),
			check: hosAll(hosEvery(2), hosErrno([]string{"umount2"}, "EPERM"), hosEmpty(1))},
		{name: "remount-usr-rw", script: "mount -o remount,rw /usr 2>&1" + hosRC + "\ntouch /usr/paddock-hostile-rw-{{tag}}" + hosRC,
			check: hosAll(hosEvery(2), hosHostAbsent(hostOnly("/usr/paddock-hostile-rw-"+c.tag)))},
		{name: "bind-mount-root", script: "mount --bind / /mnt 2>&1" + hosRC + "\nmount --rbind /proc /mnt 2>&1" + hosRC,
			check: hosEvery(2)},
		hosSys("pivot-root", []string{"pivot_root"}, "EPERM"),
		hosSys("new-mount-api", []string{"open_tree", "move_mount", "fsopen", "fspick", "fsmount", "mount_setattr"}, "EPERM"),
		{name: "chroot-breakout", script: "{{probe}} chroot_breakout " + c.e.phome, check: func(c *hosCtx, r result) string {
			v := hosResults(r.stdout)["chroot_breakout"]
			switch {
			case len(v) != 1:
				return "no result"
			case v[0] == "EPERM":
				return ""
			case v[0] != "ok sees_marker=False":
				return "ESCAPE: after walking out of a chroot the host shows: " + v[0]
			}
			return ""
		}},

		// --- namespaces
		{name: "unshare-user", script: "unshare -U -r id -u 2>&1" + hosRC, check: hosAll(hosFailsWith(1, "Operation not permitted"), hosLacks("\n0\n"))},
		{name: "unshare-mount", script: "unshare -m true 2>&1" + hosRC, check: hosFailsWith(1, "Operation not permitted")},
		{name: "unshare-net", script: "unshare -n true 2>&1" + hosRC, check: hosFailsWith(1, "Operation not permitted")},
		{name: "unshare-pid", script: "unshare -p -f true 2>&1" + hosRC, check: hosFailsWith(1, "Operation not permitted")},
		{name: "nsenter-init", script: "nsenter -t 1 -a true 2>&1" + hosRC + "\nnsenter -t 1 -m -n -p true 2>&1" + hosRC + "\n{{probe}} sys setns",
			check: hosAll(hosFailsWith(2, "Operation not permitted", "Permission denied"), hosErrno([]string{"setns"}, "EPERM", "EACCES"))},
		hosSys("clone-new-namespaces", []string{"clone_newuser", "clone_newns"}, "EPERM"),
		hosSys("clone3", []string{"clone3"}, "ENOSYS", "EPERM"),

		// --- the kernel
		{name: "load-kernel-module", script: "modprobe -q dummy 2>&1" + hosRC + "\n{{probe}} sys init_module finit_module delete_module",
			check: hosAll(hosEvery(1), hosErrno([]string{"init_module", "finit_module", "delete_module"}, "EPERM"))},
		hosSys("kexec", []string{"kexec_load", "kexec_file_load"}, "EPERM"),
		hosSys("bpf", []string{"bpf"}, "EPERM"),
		hosSys("perf-event-open", []string{"perf_event_open"}, "EPERM", "EACCES"),
		hosSys("userfaultfd", []string{"userfaultfd"}, "EPERM"),
		hosSys("open-by-handle-at", []string{"open_by_handle_at", "name_to_handle_at"}, "EPERM"),
		hosSys("set-the-clock", []string{"clock_settime", "settimeofday", "adjtimex"}, "EPERM"),
		hosSys("reboot", []string{"reboot"}, "EPERM"),
		hosSys("personality-read-implies-exec", []string{"personality_rie", "personality_rie_hibits"}, "EPERM"),
		hosSys("keyring", []string{"keyctl", "add_key", "request_key"}, "EPERM"),
		{name: "kernel-log", script: "dmesg 2>&1 | head -3; ls -l /dev/kmsg 2>&1" + hosRC + "\n{{probe}} sys syslog",
			check: hosAll(hosHas("Operation not permitted", "No such file or directory"), hosErrno([]string{"syslog"}, "EPERM"))},
		hosSys("io-uring", []string{"io_uring_setup"}, "EPERM"),
		hosSys("port-io", []string{"iopl", "ioperm"}, "EPERM"),
		hosSys("accounting-and-swap", []string{"acct", "swapon"}, "EPERM"),

		// --- devices
		{name: "mknod-block-device", script: "mknod /tmp/hostile-vda b 253 0 2>&1" + hosRC + "\nmknod {{scratch}}/blk-{{tag}} b 8 0 2>&1" + hosRC + "\n{{probe}} sys mknod_block",
			check: hosAll(hosFailsWith(2, "Operation not permitted"), hosErrno([]string{"mknod_block"}, "EPERM"), hosHostAbsent(scr("blk")))},
		{name: "mknod-char-device", script: "mknod /tmp/hostile-mem c 1 1 2>&1" + hosRC + "\nmknod {{vol}}/chr-{{tag}} c 1 1 2>&1" + hosRC + "\n{{probe}} sys mknod_char",
			check: hosAll(hosFailsWith(2, "Operation not permitted"), hosErrno([]string{"mknod_char"}, "EPERM"), hosHostAbsent(volp("chr")))},
		{name: "raw-disks-and-memory", script: "for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/mem /dev/kmem /dev/port /dev/kmsg /dev/loop0 /dev/loop-control /dev/mapper; do [ -e $d ] && echo \"PRESENT $d\"; done; ls /dev",
			check: hosAll(hosLacks("PRESENT"), hosHas(`(?m)^null$`))},

		// --- cgroups
		{name: "cgroup-v1-release-agent", script: "mkdir -p /tmp/hostile-cg && mount -t cgroup -o memory,release_agent=/tmp/x cgroup /tmp/hostile-cg 2>&1" + hosRC + "\nmount -t cgroup -o rdma cgroup /tmp/hostile-cg 2>&1" + hosRC,
			check: hosAll(hosEvery(2), hosUnchanged("/sys/fs/cgroup/memory/release_agent"))},
		{name: "cgroup-notify-on-release", script: "for f in /sys/fs/cgroup/notify_on_release /sys/fs/cgroup/memory/notify_on_release /sys/fs/cgroup/release_agent /sys/fs/cgroup/memory/release_agent; do echo 1 > $f 2>&1; echo \"rc=$?\"; done",
			check: hosAll(hosEvery(4), hosUnchanged("/sys/fs/cgroup/memory/release_agent"), hosHostCheck(func(c *hosCtx) string {
				for _, p := range []string{"/sys/fs/cgroup/memory/paddock/" + c.id + "/notify_on_release", "/sys/fs/cgroup/memory/notify_on_release"} {
					if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "0" {
						return "ESCAPE: host " + p + " is " + strings.TrimSpace(string(b))
					}
				}
				return ""
			}))},
		{name: "mount-cgroup2", script: "mkdir -p /tmp/hostile-cg2 && mount -t cgroup2 none /tmp/hostile-cg2 2>&1" + hosRC, check: hosEvery(1)},

		// --- privileges
		{name: "sudo-and-su", only: "sandbox-uid1000", script: "sudo -n id -u 2>&1" + hosRC + "\nsu -c 'id -u' root </dev/null 2>&1" + hosRC,
			check: hosAll(hosEvery(2), hosLacks("\n0\n"), hosHas("Authentication failure"))},
		{name: "setuid-host-binary", only: "sandbox-uid1000", script: "{{probe}} suid_uid /usr/bin/su; {{probe}} suid_uid /usr/bin/passwd; {{probe}} suid_uid /usr/bin/newgrp",
			check: func(c *hosCtx, r result) string {
				ms := regexp.MustCompile(`(?m)^euid_of_(\S+): (.*)$`).FindAllStringSubmatch(r.stdout, -1)
				if len(ms) != 3 {
					return "want three set-user-ID programs observed"
				}
				for _, m := range ms {
					if f := strings.Fields(m[2]); m[2] != "gone" && (len(f) != 4 || hosIn("0", f)) {
						return "ESCAPE: " + m[1] + " ran with ids " + m[2]
					}
				}
				return ""
			}},
		{name: "setuid-copy-planted-by-root", only: "sandbox-uid1000", script: "/tmp/hostile-suid -p -c 'id -u'; {{probe}} suid_uid /tmp/hostile-suid -p",
			check: hosAll(hosHas(`(?m)^(1000|65534)$`), hosLacks("\n0\n", " 0 ", ": 0"))},
		{name: "no-new-privs", script: "grep NoNewPrivs /proc/self/status", check: hosHas(`NoNewPrivs:\s+1`)},
		{name: "capabilities", script: "grep ^Cap /proc/self/status", check: hosCaps},
		{name: "setuid-file-for-the-host", script: "cp /bin/sh {{scratch}}/suid-{{tag}} && chmod 6755 {{scratch}}/suid-{{tag}}; ls -ln {{scratch}}/suid-{{tag}}",
			check: hosNoSetIDOnHost("suid")},
		{name: "file-capabilities-for-the-host", script: "cp /bin/sh {{vol}}/caps-{{tag}} && setcap cap_setuid,cap_dac_override+ep {{vol}}/caps-{{tag}} 2>&1; getcap {{vol}}/caps-{{tag}}",
			check: hosNoHostFileCaps("caps")},

		// --- links
		{name: "hardlink-host-file-into-workspace", script: "ln /etc/passwd {{scratch}}/hl-{{tag}} 2>&1" + hosRC + "\nln /etc/shadow {{scratch}}/hls-{{tag}} 2>&1" + hosRC,
			check: hosAll(hosFailsWith(2, "Invalid cross-device link"), hosHostAbsent(scr("hl"), scr("hls")))},
		{name: "hardlink-host-file-into-volume", script: "ln /etc/passwd {{vol}}/hl-{{tag}} 2>&1" + hosRC + "\nln /usr/bin/su {{vol}}/hlsu-{{tag}} 2>&1" + hosRC,
			check: hosAll(hosFailsWith(2, "Invalid cross-device link"), hosHostAbsent(volp("hl"), volp("hlsu")))},
		{name: "symlink-to-host-secrets", script: fmt.Sprintf("ln -s %s {{scratch}}/sl-root-{{tag}}; ln -s %s {{vol}}/sl-home-{{tag}}; ln -s / {{vol}}/sl-slash-{{tag}}; "+
			"cat {{scratch}}/sl-root-{{tag}} {{vol}}/sl-home-{{tag}} {{vol}}/sl-slash-{{tag}}%s 2>&1; true", h.rootMarker, h.userMarker, h.envMarker),
			check: hosLacks(secrets...)},

		// --- network
		{name: "host-loopback-tcp", script: fmt.Sprintf("{{probe}} connect 127.0.0.1 %d", h.loPort),
			check: hosAll(hosErrno([]string{"connect"}, "ECONNREFUSED"), hosLacks("host-listener-reached"))},
		{name: "host-address-tcp", script: fmt.Sprintf("{{probe}} connect %s %d", h.hostIP, h.anyPort),
			check: hosAll(hosErrno([]string{"connect"}, "ENETUNREACH", "EHOSTUNREACH", "ECONNREFUSED"), hosLacks("host-listener-reached"))},
		{name: "host-abstract-unix-socket", script: "{{probe}} connect_unix " + h.abstract,
			check: hosAll(hosErrno([]string{"connect_unix"}, "ECONNREFUSED"), hosLacks("host-listener-reached"))},
		{name: "network-interfaces", script: "ls /sys/class/net; sed 1,2d /proc/net/dev | cut -d: -f1 | tr -d ' '",
			check: func(c *hosCtx, r result) string {
				if r.stdout != "lo\nlo\n" {
					return fmt.Sprintf("ESCAPE: want only the loopback interface, got %q", r.stdout)
				}
				return ""
			}},

		// --- the terminal
		{name: "tiocsti-terminal-injection", tty: true, script: "{{probe}} tiocsti 0",
			check: hosAll(hosLacks("not_a_terminal"), hosErrno([]string{"tiocsti", "tiocsti_hibits", "tiocsti_i386"}, "EPERM", "ENOSYS"))},
		// Without -t, on the caller's terminal: the command must not hold that terminal (paddock
		// relays it through pipes), so it cannot push input into the user's shell.
		{name: "tiocsti-caller-terminal", onTTY: true, script: "{{probe}} tiocsti 1",
			check: hosAll(hosHas(`not_a_terminal: fd 1`), hosErrno([]string{"tiocsti", "tiocsti_hibits", "tiocsti_i386"}, "ENOTTY", "EPERM", "ENOSYS"), hosLacks("#tiocsti"))},
		{name: "host-ptys", script: "ls -A /dev/pts; test -e " + h.hostPTY + hosRC,
			check: func(c *hosCtx, r result) string {
				if !strings.HasPrefix(r.stdout, "ptmx\n") || strings.Count(r.stdout, "\n") != 2 {
					return fmt.Sprintf("ESCAPE: /dev/pts shows more than the sandbox's own (host terminal %s open): %q", c.h.hostPTY, r.stdout)
				}
				return hosEvery(1)(c, r)
			}},

		// --- the 32-bit system call ABI (int 0x80), which an x86_64 filter must not leave open
		{name: "i386-abi-syscalls", script: "{{probe}} i386", check: hosErrno([]string{"i386_unshare_user", "i386_unshare_user_net",
			"i386_keyctl", "i386_bpf", "i386_userfaultfd", "i386_perf_event_open", "i386_mount", "i386_personality_rie"}, "EPERM", "ENOSYS")},

		// --- what the CLI's environment holds
		{name: "host-environment", env: []string{"HOSTILE_TOKEN=" + h.secret, "AWS_SECRET_ACCESS_KEY=" + h.secret,
			"SSH_AUTH_SOCK=/tmp/ssh-" + h.markerName + "/agent.1", "GITHUB_TOKEN=" + h.secret},
			script: "env; tr '\\0' '\\n' < /proc/self/environ",
			check:  hosLacks(h.secret, h.markerName)},
		{name: "binfmt-misc-register", script: "echo ':hostile:E::hostile::/tmp/hostile-interp:' > /proc/sys/fs/binfmt_misc/register" + hosRC,
			check: hosAll(hosEvery(1), hosHostAbsent(hostOnly("/proc/sys/fs/binfmt_misc/hostile")))},
	}
	if h.hostIP == "" {
		probes = hosWithout(probes, "host-address-tcp")
	}
	return probes
}

func hosWithout(ps []hosProbe, name string) []hosProbe {
	var out []hosProbe
	for _, p := range ps {
		if p.name != name {
			out = append(out, p)
		}
	}
	return out
}

func hosExpand(c *hosCtx, s string) string {
	return strings.NewReplacer("{{probe}}", c.probe, "{{scratch}}", c.scratch, "{{vol}}", c.vol, "{{tag}}", c.tag).Replace(s)
}

// TestHostileProbes runs the probe table in the four configurations.
func TestHostileProbes(t *testing.T) {
	requireRoot(t)
	secret := "paddock-hostile-secret-" + hosRandom()
	sshKey := hosSSHKey(t, secret)
	total := map[string]int{}
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		h := hosFixtures(t, e, secret, sshKey)
		hosStartOther(t, e, h)
		for _, u := range hosUsers {
			t.Run(u.label, func(t *testing.T) {
				start := time.Now()
				c := hosNewConfig(t, e, h, u)
				n := 0
				for _, p := range hosProbes(c) {
					if p.only != "" && p.only != u.label {
						continue
					}
					n++
					p.script = hosExpand(c, p.script)
					t.Run(p.name, func(t *testing.T) {
						r := c.exec(t, p)
						if os.Getenv("PADDOCK_HOSTILE_SHOW") == "1" {
							t.Logf("script: %s\n%s", p.script, r)
						}
						if msg := p.check(c, r); msg != "" {
							t.Errorf("[%s, %s] probe %s: %s\nscript: %s\n%s", e.mode, u.label, p.name, msg, p.script, r)
						}
					})
				}
				total[string(e.mode)+"/"+u.label] = n
				t.Logf("%s/%s: %d probes in %s", e.mode, u.label, n, time.Since(start).Round(time.Millisecond))
			})
		}
		// The other sandbox must have kept its process through all of it.
		if hosFindCmdline("sleep 4242") == 0 {
			t.Errorf("sandbox B's `sleep 4242` died during the probes")
		}
	})
	t.Logf("probes per configuration: %v", total)
}

// ---------------------------------------------------------------------------------------------
// symlinks planted for paddock itself

// hosVictim is a host file or folder a planted symlink points at; it must not change.
type hosVictim struct {
	path  string
	state string
}

func hosVictimState(p string) string {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return "missing"
	}
	s := fmt.Sprintf("mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		entries, _ := os.ReadDir(p)
		for _, en := range entries {
			s += " " + en.Name() + "=" + hosVictimState(filepath.Join(p, en.Name()))
		}
		return s
	}
	return s + " sha=" + hosSHA(p)
}

// TestHostilePlantedSymlinks: symlinks the agent plants in its home and /var (where paddock
// itself writes when it prepares a start) and a locked .gitconfig must never make paddock write,
// chmod or delete outside, on the next start (with the same and a changed git identity) or on rm.
func TestHostilePlantedSymlinks(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		var victims []*hosVictim
		victim := func(name string, dir bool) string {
			p := filepath.Join(e.dir, "victim-"+name)
			if dir {
				if err := os.Mkdir(p, 0o750); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(p, "keep"), []byte("keep "+name+"\n"), 0o640)
			} else {
				os.WriteFile(p, []byte("victim "+name+"\n"), 0o640)
			}
			victims = append(victims, &hosVictim{path: p, state: hosVictimState(p)})
			return p
		}
		vTmp, vCache, vLib, vRun := victim("var-tmp", true), victim("var-cache", true), victim("var-lib", true), victim("var-run", true)
		vGit, vLock, vHome := victim("gitconfig", false), victim("gitconfig-lock", false), victim("home-dir", true)
		vUser := victim("uid1000", true)
		check := func(when string) {
			t.Helper()
			for _, v := range victims {
				if got := hosVictimState(v.path); got != v.state {
					t.Errorf("ESCAPE (%s): host victim %s changed:\nbefore %s\nafter  %s", when, v.path, v.state, got)
				}
			}
		}

		ws := e.workspace("planted")
		name := procDetach(t, e, ws)
		plant := fmt.Sprintf(`rm -rf /var/tmp && ln -s %s /var/tmp
rm -rf /var/cache && ln -s %s /var/cache
rm -rf /var/lib && ln -s %s /var/lib
rm -rf /var/run /var/lock && ln -s %s /var/run && ln -s %s /var/lock
rm -f ~/.gitconfig && ln -s %s ~/.gitconfig
mkdir -p ~/.cache && ln -s %s ~/.cache/planted && mkdir ~/locked && ln -s %s ~/locked/planted && chmod 000 ~/locked
ln /etc/passwd ~/.hardlinked-passwd 2>/dev/null; ln -s %s /tmp/planted
echo planted`, vTmp, vCache, vLib, vRun, vRun, vGit, vHome, vHome, vHome)
		if r := e.run(ws, "exec", name, "sh", "-c", plant); r.code != 0 || !strings.HasSuffix(r.stdout, "planted\n") {
			t.Fatalf("planting symlinks as root inside: %s", r)
		}
		// The non-root user plants what it can.
		e.run(ws, "exec", "-u", "1000", name, "sh", "-c", fmt.Sprintf("ln -s %s /tmp/planted-by-user; ln -s %s /dev/shm/planted; true", vUser, vUser))

		// Next start, same git identity.
		e.ok("", "stop", "-t", "1", name)
		e.ok(ws, "exec", name, "true")
		check("after a restart")
		// Next start with a changed git identity: paddock rewrites ~/.gitconfig.
		e.writeFile(filepath.Join(e.home, ".gitconfig"), "[user]\n\tname = Hostile Tester\n\temail = hostile@paddock.test\n")
		e.ok("", "stop", "-t", "1", name)
		r := e.run(ws, "exec", name, "sh", "-c", "test -f ~/.gitconfig && ! test -L ~/.gitconfig && git config --global user.name")
		if r.code != 0 || r.stdout != "Hostile Tester\n" {
			t.Errorf("after a restart with a new git identity, ~/.gitconfig should be a plain file naming Hostile Tester: %s", r)
		}
		check("after a restart with a new git identity")

		// A planted lock file next to a regular .gitconfig, then another identity change: git
		// must not follow it (git config takes the lock with O_EXCL).
		if r := e.run(ws, "exec", name, "sh", "-c", fmt.Sprintf("ln -sf %s ~/.gitconfig.lock && echo ok", vLock)); r.stdout != "ok\n" {
			t.Fatalf("planting ~/.gitconfig.lock: %s", r)
		}
		e.writeFile(filepath.Join(e.home, ".gitconfig"), "[user]\n\tname = Hostile Tester Two\n\temail = hostile2@paddock.test\n")
		e.ok("", "stop", "-t", "1", name)
		r = e.run(ws, "exec", name, "true")
		t.Logf("start with a planted ~/.gitconfig.lock and a new identity: %s", r)
		if r.code != 0 {
			t.Errorf("not an escape, but a self-inflicted denial of service: a ~/.gitconfig.lock planted by the agent keeps its sandbox from starting; "+
				"paddock should remove a stale lock or write the identity without git's lock: %s", r)
		}
		check("after a restart with a planted .gitconfig.lock")

		state := procInspect(t, e, name).Paths["state"]
		e.ok("", "rm", "-f", name)
		check("after rm")
		if _, err := os.Stat(state); err == nil {
			t.Errorf("rm left the sandbox folder %s", state)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// resources

// hosLimits reads inspect's state.limits_enforced.
func hosLimits(t *testing.T, e *env, name string) map[string]any {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal([]byte(e.ok("", "inspect", name)), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	st, _ := v[0]["state"].(map[string]any)
	le, _ := st["limits_enforced"].(map[string]any)
	if le == nil {
		t.Fatalf("inspect %s has no state.limits_enforced", name)
	}
	return le
}

// hosHostForks checks that the host can still start processes, and how long it took.
func hosHostForks(t *testing.T, when string) {
	t.Helper()
	start := time.Now()
	for i := 0; i < 5; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			t.Errorf("%s: the host cannot start a process: %v", when, err)
			return
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("%s: five host processes took %s", when, d.Round(time.Millisecond))
	}
}

// hosTimedExec runs `exec NAME true` and says how long it took.
func hosTimedExec(t *testing.T, e *env, ws, name, when string, within time.Duration) {
	t.Helper()
	start := time.Now()
	r, err := procRun(e, ws, "", 30*time.Second, "exec", name, "sh", "-c", "echo alive")
	took := time.Since(start)
	t.Logf("%s: exec in %s took %s", when, name, took.Round(time.Millisecond))
	if err != nil || r.code != 0 || r.stdout != "alive\n" {
		t.Errorf("%s: sandbox %s must still answer exec: %v %s", when, name, err, r)
	} else if took > within {
		t.Errorf("%s: exec in sandbox %s took %s, want under %s", when, name, took.Round(time.Millisecond), within)
	}
}

// TestHostileForkBomb: a fork bomb only hurts its own sandbox.
func TestHostileForkBomb(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		wsBomb, wsCalm := e.workspace("bomb"), e.workspace("calm")
		// A limit the bomb reaches within the test's window on any machine (forks under a 1-CPU
		// quota came at ~50/s on a loaded host, too slow to reach the default 4096 in time).
		bomb := strings.TrimSpace(e.ok(wsBomb, "run", "-d", "--pids-limit", "512", "shell"))
		calm := procDetach(t, e, wsCalm)
		le := hosLimits(t, e, bomb)
		t.Logf("bomb sandbox limits: %v", le)
		if le["pids"] != true {
			t.Fatalf("the bomb's sandbox runs without a process limit: %v", le)
		}
		st := procRunning(t, e, bomb)
		bombStart := time.Now()
		// The bomb detaches at once (its first call backgrounds itself and returns); its processes
		// fork until the process limit stops them and live on until the sandbox is stopped.
		done := make(chan result, 1)
		go func() {
			r, _ := procRun(e, wsBomb, "", 60*time.Second, "exec", bomb, "sh", "-c",
				`timeout -s KILL 6 bash -c ':(){ :|:& };:' >/dev/null 2>&1; echo bomb-over`)
			done <- r
		}()
		time.Sleep(3 * time.Second)
		peak := len(hosDescendants(st.State.InitPID))
		t.Logf("processes in the bombing sandbox after 3s: %d", peak)
		if limit, _ := le["pids_max"].(float64); limit > 0 && float64(peak) > limit+16 {
			t.Errorf("the bombing sandbox holds %d processes, above its limit of %v", peak, limit)
		}
		// The bomb's processes keep forking after `timeout` ends its first one: on a busy machine
		// it may take longer than 3 s to reach the limit, so look a few times.
		var hits any
		for end := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			var v []map[string]any
			json.Unmarshal([]byte(e.ok("", "inspect", bomb)), &v)
			if len(v) == 1 {
				st, _ := v[0]["state"].(map[string]any)
				hits = st["pids_limit_hits"]
			}
			if n, _ := hits.(float64); n >= 1 || le["pids_method"] != "cgroup" || time.Now().After(end) {
				break
			}
		}
		t.Logf("inspect during the bomb: state.pids_limit_hits %v (after %s)", hits, time.Since(bombStart).Round(time.Millisecond))
		if n, _ := hits.(float64); le["pids_method"] == "cgroup" && n < 1 {
			t.Errorf("inspect must count the forks the pids limit refused (state.pids_limit_hits), got %v", hits)
		}
		hosTimedExec(t, e, wsCalm, calm, "during the fork bomb", 10*time.Second)
		hosHostForks(t, "during the fork bomb")
		select {
		case r := <-done:
			t.Logf("the exec that launched the bomb returned: exit %d %q", r.code, r.stdout)
		case <-time.After(40 * time.Second):
			t.Errorf("the bomb's exec did not end within 40s")
		}
		start := time.Now()
		if r, err := procRun(e, wsBomb, "", 60*time.Second, "stop", "-t", "1", bomb); err != nil || r.code != 0 {
			t.Errorf("stop during the fork bomb: %v %s", err, r)
		}
		t.Logf("stop -t 1 of the bombing sandbox took %s", time.Since(start).Round(time.Millisecond))
		if n := len(hosDescendants(st.State.InitPID)); n > 0 && hosAlive(st.State.InitPID) {
			t.Errorf("after stop, %d processes of the bombed sandbox remain", n)
		}
		hosTimedExec(t, e, wsCalm, calm, "after the fork bomb", 5*time.Second)
		hosTimedExec(t, e, wsBomb, bomb, "the bombed sandbox, restarted", 10*time.Second)
		hosHostForks(t, "after the fork bomb")
		t.Logf("fork bomb scenario took %s", time.Since(bombStart).Round(time.Millisecond))
	})
}

func hosAlive(pid int) bool {
	st, _, ok := procStat(pid)
	return ok && st != 'Z'
}

// hosDescendants lists pid and every live process below it on the host.
func hosDescendants(pid int) []int {
	if _, _, ok := procStat(pid); !ok {
		return nil
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, tk := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], tk.Name()))
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// TestHostileMemoryBomb: where memory is enforced, an allocation over --memory is killed (exit
// 137) and the sandbox, the others and the host carry on; where it cannot be, --memory is refused
// rather than silently ignored.
func TestHostileMemoryBomb(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws, wsCalm := e.workspace("membomb"), e.workspace("memcalm")
		calm := procDetach(t, e, wsCalm)
		r, err := procRun(e, ws, "", 30*time.Second, "run", "-d", "--memory", "128m", "shell")
		if err != nil {
			t.Fatal(err)
		}
		if r.code != 0 {
			if e.mode == asRoot {
				t.Fatalf("run --memory 128m as root: %s", r)
			}
			// Refused: one clear line, no sandbox left behind.
			if !strings.Contains(r.stderr, "memory") || len(lcLines(r.stderr)) != 1 {
				t.Errorf("a refused --memory must say why in one line: %s", r)
			}
			t.Logf("rootless --memory 128m is refused here (memory cannot be enforced): %s", strings.TrimSpace(r.stderr))
			return
		}
		name := strings.TrimSpace(r.stdout)
		le := hosLimits(t, e, name)
		if le["memory"] != true {
			t.Fatalf("ESCAPE: --memory 128m was accepted but is not enforced: %v", le)
		}
		start := time.Now()
		r, _ = procRun(e, ws, "", 60*time.Second, "exec", name, "python3", "-c",
			"b = bytearray(b'x') * (1 << 30); print('allocated', len(b))")
		t.Logf("memory bomb: %s after %s", r, time.Since(start).Round(time.Millisecond))
		if r.code != 137 || strings.Contains(r.stdout, "allocated") {
			t.Errorf("ESCAPE: allocating 1 GiB under --memory 128m: want the process killed (exit 137), got %s", r)
		}
		// paddock says what happened: on stderr, and in inspect's state.oom_kills.
		var v []map[string]any
		json.Unmarshal([]byte(e.ok("", "inspect", name)), &v)
		var kills any
		if len(v) == 1 {
			st, _ := v[0]["state"].(map[string]any)
			kills = st["oom_kills"]
		}
		t.Logf("paddock's report: stderr %q, inspect state.oom_kills %v", r.stderr, kills)
		if !strings.Contains(strings.ToLower(r.stderr), "memory") {
			t.Errorf("the OOM kill must be reported on stderr (mentioning memory), got %q", r.stderr)
		}
		if n, _ := kills.(float64); n < 1 {
			t.Errorf("inspect must count the OOM kill in state.oom_kills, got %v", kills)
		}
		hosTimedExec(t, e, ws, name, "the bombed sandbox after the OOM kill", 5*time.Second)
		hosTimedExec(t, e, wsCalm, calm, "another sandbox after the OOM kill", 5*time.Second)
		hosHostForks(t, "after the memory bomb")
	})
}

// TestHostileDiskFill: a sandbox that fills the file system of PADDOCK_HOME (a 64 MiB ext4)
// leaves host root able to write there (reserved blocks) and another sandbox on it working.
func TestHostileDiskFill(t *testing.T) {
	e := newEnv(t, asRoot)
	procReap(t, e)
	img, mnt := filepath.Join(e.dir, "small.img"), filepath.Join(e.dir, "small")
	for _, args := range [][]string{{"truncate", "-s", "64M", img}, {"mkfs.ext4", "-q", "-F", img}, {"mkdir", "-p", mnt}, {"mount", "-o", "loop", img, mnt}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	small := *e
	small.phome = filepath.Join(mnt, "paddock-home")
	t.Cleanup(func() {
		procRun(&small, "", "", 60*time.Second, "rm", "-f", "--all")
		for _, p := range procSupervisorsUnder(small.phome) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("unmounting the small file system: %v: %s", err, out)
			exec.Command("umount", "-l", mnt).Run()
		}
	})
	wsFill, wsCalm := e.workspace("fill"), e.workspace("fillcalm")
	fill, calm := procDetach(t, &small, wsFill), procDetach(t, &small, wsCalm)

	r, err := procRun(&small, wsFill, "", 60*time.Second, "exec", fill, "sh", "-c",
		"dd if=/dev/zero of=/tmp/fill bs=1M 2>&1; echo \"rc=$?\"; dd if=/dev/zero of=$HOME/fill2 bs=4k 2>&1; echo \"rc=$?\"; df -k /tmp | tail -1")
	if err != nil || !strings.Contains(r.stdout, "No space left on device") || strings.Contains(r.stdout, "rc=0") {
		t.Fatalf("filling /tmp inside: want No space left on device, got %v %s", err, r)
	}
	t.Logf("filled: %s", lcLines(r.stdout)[len(lcLines(r.stdout))-1])
	// Host root keeps its reserved blocks: the sandbox's root is not host root.
	if err := os.WriteFile(filepath.Join(mnt, "host-root-can-write"), bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
		t.Errorf("ESCAPE: after the sandbox filled the disk, host root cannot write 1 MiB there: %v", err)
	}
	os.Remove(filepath.Join(mnt, "host-root-can-write"))
	hosTimedExec(t, &small, wsCalm, calm, "another sandbox on the full disk", 5*time.Second)
	hosTimedExec(t, &small, wsFill, fill, "the sandbox that filled the disk", 5*time.Second)
	// A restart on the full disk still works (paddock writes its state as host root).
	small.ok("", "stop", "-t", "1", calm)
	hosTimedExec(t, &small, wsCalm, calm, "another sandbox restarted on the full disk", 10*time.Second)
	if r := small.run("", "ls", "-a"); r.code != 0 {
		t.Errorf("ls on the full disk: %s", r)
	}
	small.ok("", "rm", "-f", fill)
	hosTimedExec(t, &small, wsCalm, calm, "after the filling sandbox was removed", 5*time.Second)
}

// ---------------------------------------------------------------------------------------------
// faults: SIGKILL at each lifecycle step, then no leaks and an intact workspace

// hosTree fills a workspace with files, folders and links, and returns its digest.
func hosTree(t *testing.T, e *env, ws string) string {
	t.Helper()
	for i := 0; i < 24; i++ {
		dir := filepath.Join(ws, fmt.Sprintf("d%d", i%4), fmt.Sprintf("s%d", i%3))
		e.mkdir(dir)
		b := make([]byte, (i*7919)%(96<<10))
		rand.Read(b)
		p := filepath.Join(dir, fmt.Sprintf("f%d.bin", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chown(p, e.uid, e.gid)
	}
	os.Chmod(filepath.Join(ws, "d0", "s0", "f0.bin"), 0o600)
	os.Chmod(filepath.Join(ws, "d1", "s1", "f1.bin"), 0o755)
	os.Symlink("d0/s0/f0.bin", filepath.Join(ws, "link"))
	os.Lchown(filepath.Join(ws, "link"), e.uid, e.gid)
	e.mkdir(filepath.Join(ws, "empty"))
	return hosDigest(t, ws)
}

// hosDigest hashes every path, type, mode, owner, size, content and link target below dir.
func hosDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %o %d:%d %d\n", strings.TrimPrefix(p, dir), st.Mode, st.Uid, st.Gid, st.Size)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFLNK:
			l, _ := os.Readlink(p)
			fmt.Fprintf(h, "-> %s\n", l)
		case syscall.S_IFREG:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			io.Copy(h, f)
			f.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("hashing %s: %v", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hosLeaks lists what a stopped (or removed) sandbox left behind on the host: mounts in the
// host's table, any process that still holds its state folder (a supervisor by its arguments, an
// init or sandbox process by its mount table), and, when cgroups is set, its cgroups.
func hosLeaks(id, state string, cgroups bool) []string {
	var out []string
	run := "/run/paddock/" + id[:12]
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "/sandboxes/"+id[:12]+"/") || strings.Contains(l, state+" ") || strings.Contains(l, run+" ") || strings.Contains(l, run+"/") {
				out = append(out, "host mount: "+l)
			}
		}
	}
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil || pid == self {
			continue
		}
		if st, _, ok := procStat(pid); !ok || st == 'Z' {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		if len(args) >= 3 && args[1] == "__supervise" && filepath.Clean(args[2]) == state {
			out = append(out, fmt.Sprintf("process %d: %q", pid, strings.Join(args, " ")))
			continue
		}
		mi, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "mountinfo"))
		if bytes.Contains(mi, []byte("/sandboxes/"+id[:12]+"/")) {
			out = append(out, fmt.Sprintf("process %d (%q) has the sandbox's mounts", pid, strings.Join(args, " ")))
		}
	}
	if cgroups {
		for _, pat := range []string{"/sys/fs/cgroup/*/paddock/", "/sys/fs/cgroup/paddock.slice/", "/sys/fs/cgroup/*/paddock.slice/", "/sys/fs/cgroup/paddock/"} {
			m, _ := filepath.Glob(pat + id)
			for _, g := range m {
				out = append(out, "cgroup "+g)
			}
		}
	}
	return out
}

// hosNewSupervisor waits for a supervisor under phome that is not in known, and returns it.
func hosNewSupervisor(phome string, known map[int]bool, within time.Duration) (procIdentity, bool) {
	var found procIdentity
	ok := procWait(within, func() bool {
		for _, p := range procSupervisorsUnder(phome) {
			if !known[p.pid] {
				found = p
				return true
			}
		}
		return false
	})
	return found, ok
}

// hosInitOf returns the supervisor's child running the init of sandbox id once that init has
// begun to mount the sandbox's folders (0 if it is not seen in time). Helpers the supervisor runs
// meanwhile (newuidmap, newgidmap) are not it.
func hosInitOf(pid int, id string, within time.Duration) int {
	found := 0
	mark := []byte("/sandboxes/" + id[:12] + "/")
	deadline := time.Now().Add(within)
	for found == 0 && time.Now().Before(deadline) {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, tk := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, tk.Name()))
			for _, f := range strings.Fields(string(b)) {
				c, _ := strconv.Atoi(f)
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
				mi, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", c))
				if bytes.HasPrefix(cmd, []byte("paddock-init\x00")) && bytes.Contains(mi, mark) {
					found = c
				}
			}
		}
		if found == 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	return found
}

// TestHostileFaults kills the CLI, the supervisor and the init with SIGKILL while a sandbox
// starts, runs an exec, stops and is removed. Afterwards (and after the stop a user would run)
// nothing is left on the host, the workspace is byte-for-byte what it was, and the sandbox works
// again. Killing the supervisor or init of an idle running sandbox and the CLI during create are
// covered in process_test.go; this adds the other steps and the leak and integrity checks.
func TestHostileFaults(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		procReap(t, e)
		ws := e.workspace("faults")
		want := hosTree(t, e, ws)
		cg := e.mode == asRoot
		var ids []string
		var idsMu sync.Mutex

		type scenario struct {
			name string
			// fault runs with the sandbox in the state the step needs and returns the CLI process
			// it started (if any), which must end within a bounded time.
			fault func(t *testing.T, name, id string) *exec.Cmd
			// removes: the step removes the sandbox (rm); a new one is created after.
			removes bool
		}
		startCLI := func(args ...string) *exec.Cmd {
			cmd := e.command(ws, args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			return cmd
		}
		// atStart starts the stopped sandbox and kills one of its processes while it starts: the
		// CLI and the supervisor as soon as the supervisor exists, the init once it is building the
		// sandbox's mounts (it has its configuration and has not reported ready yet).
		atStart := func(t *testing.T, name, id, which string) *exec.Cmd {
			known := map[int]bool{}
			for _, p := range procSupervisorsUnder(e.phome) {
				known[p.pid] = true
			}
			cmd := startCLI("exec", name, "true")
			sv, ok := hosNewSupervisor(e.phome, known, 10*time.Second)
			if !ok {
				cmd.Process.Kill()
				t.Fatalf("no supervisor appeared while starting")
			}
			switch which {
			case "cli":
				cmd.Process.Kill()
			case "supervisor":
				syscall.Kill(sv.pid, syscall.SIGKILL)
			case "init":
				if c := hosInitOf(sv.pid, id, 5*time.Second); c > 0 {
					syscall.Kill(c, syscall.SIGKILL)
				} else {
					t.Logf("the supervisor's init was not seen building the sandbox; killing nothing")
				}
			}
			return cmd
		}
		// running starts the sandbox and returns its supervisor and init.
		running := func(t *testing.T, name string) procState {
			if r, err := procRun(e, ws, "", 30*time.Second, "exec", name, "true"); err != nil || r.code != 0 {
				t.Fatalf("starting %s: %v %s", name, err, r)
			}
			return procRunning(t, e, name)
		}
		duringExec := func(t *testing.T, name, which string) *exec.Cmd {
			st := running(t, name)
			tmp := filepath.Join(st.Paths["tmp"], "exec-running")
			os.Remove(tmp)
			cmd := startCLI("exec", name, "sh", "-c", "echo > /tmp/exec-running; exec sleep 60")
			if !procWait(10*time.Second, func() bool { _, err := os.Stat(tmp); return err == nil }) {
				cmd.Process.Kill()
				t.Fatalf("the exec did not start")
			}
			switch which {
			case "cli":
				cmd.Process.Kill()
			case "supervisor":
				syscall.Kill(st.State.SupervisorPID, syscall.SIGKILL)
			case "init":
				syscall.Kill(st.State.InitPID, syscall.SIGKILL)
			}
			return cmd
		}
		duringStop := func(t *testing.T, name, which string, args ...string) *exec.Cmd {
			st := running(t, name)
			// A process that ignores SIGTERM keeps the stop going for its grace period.
			if r, err := procRun(e, ws, "", 20*time.Second, "exec", name, "sh", "-c", `(trap "" TERM; exec sleep 1000) >/dev/null 2>&1 & echo ok`); err != nil || r.stdout != "ok\n" {
				t.Fatalf("starting a stubborn process: %v %s", err, r)
			}
			cmd := startCLI(args...)
			// The stop is under way once the supervisor received SIGTERM: wait for the sleep to get
			// it (it ignores it) by giving the CLI a moment.
			time.Sleep(150 * time.Millisecond)
			switch which {
			case "cli":
				cmd.Process.Kill()
			case "supervisor":
				syscall.Kill(st.State.SupervisorPID, syscall.SIGKILL)
			case "init":
				syscall.Kill(st.State.InitPID, syscall.SIGKILL)
			}
			return cmd
		}
		var scenarios []scenario
		for _, who := range []string{"cli", "supervisor", "init"} {
			scenarios = append(scenarios,
				scenario{name: who + "-killed-during-start", fault: func(t *testing.T, name, sandboxID string) *exec.Cmd {
					procRun(e, ws, "", 30*time.Second, "stop", "-t", "1", name)
					return atStart(t, name, sandboxID, who)
				}},
				scenario{name: who + "-killed-during-exec", fault: func(t *testing.T, name, _ string) *exec.Cmd { return duringExec(t, name, who) }},
				scenario{name: who + "-killed-during-stop", fault: func(t *testing.T, name, _ string) *exec.Cmd {
					return duringStop(t, name, who, "stop", "-t", "5", name)
				}},
				scenario{name: who + "-killed-during-rm", removes: true, fault: func(t *testing.T, name, _ string) *exec.Cmd {
					return duringStop(t, name, who, "rm", "-f", name)
				}},
			)
		}

		name := procDetach(t, e, ws)
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				st := running(t, name)
				id, state := st.ID, st.Paths["state"]
				idsMu.Lock()
				ids = append(ids, id+" "+state)
				idsMu.Unlock()
				cmd := sc.fault(t, name, id)
				waited := make(chan struct{})
				go func() { cmd.Wait(); close(waited) }()
				select {
				case <-waited:
				case <-time.After(20 * time.Second):
					cmd.Process.Kill()
					<-waited
					t.Errorf("the CLI did not end within 20s of the fault: it must succeed or fail promptly (a start whose init died waits out the supervisor's 30s ready timeout)")
				}
				// What a user does next: stop (or rm again) the sandbox.
				if sc.removes {
					if r, err := procRun(e, ws, "", 30*time.Second, "rm", "-f", name); err != nil || (r.code != 0 && !strings.Contains(r.stderr, "no such sandbox")) {
						t.Errorf("rm -f after the fault: %v %s", err, r)
					}
				} else if r, err := procRun(e, ws, "", 30*time.Second, "stop", "-t", "1", name); err != nil || r.code != 0 {
					t.Errorf("stop after the fault: %v %s", err, r)
				}
				var leaks []string
				if !procWait(10*time.Second, func() bool { leaks = hosLeaks(id, state, cg); return len(leaks) == 0 }) {
					t.Errorf("after the fault and a stop, the sandbox left behind:\n%s", strings.Join(leaks, "\n"))
				}
				if got := hosDigest(t, ws); got != want {
					t.Errorf("the workspace changed (digest %s, want %s)", got, want)
				}
				if sc.removes {
					if _, err := os.Stat(state); err == nil {
						t.Errorf("rm after the fault left the state folder %s", state)
					}
					name = procDetach(t, e, ws)
				} else {
					hosTimedExec(t, e, ws, name, "after the fault", 10*time.Second)
				}
			})
		}
		if r, err := procRun(e, ws, "", 60*time.Second, "rm", "-f", "--all"); err != nil || r.code != 0 {
			t.Errorf("rm -f --all: %v %s", err, r)
		}
		for _, is := range ids {
			id, state, _ := strings.Cut(is, " ")
			if leaks := hosLeaks(id, state, cg); len(leaks) > 0 {
				t.Errorf("after rm, sandbox %s left behind:\n%s", id[:12], strings.Join(leaks, "\n"))
			}
			if _, err := os.Stat(state); err == nil {
				t.Errorf("after rm, the state folder %s remains", state)
			}
		}
		if got := hosDigest(t, ws); got != want {
			t.Errorf("after everything, the workspace changed")
		}
	})
}
