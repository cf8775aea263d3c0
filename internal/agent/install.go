package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/flock"
	"github.com/paddockhq/paddock/internal/npmtrust"
)

// Error categories of installs.
var (
	// ErrUnknownVersion: the registry has no such version of the agent's package.
	ErrUnknownVersion = errors.New("no such agent version")
	// ErrNoNPM: npm is not installed on the host.
	ErrNoNPM = errors.New("npm is not installed")
	// ErrBadVersion: the requested version is not a version, tag or range.
	ErrBadVersion = errors.New("bad agent version")
)

// Compiled on first use: every paddock process (the sandbox's init too) would pay at start-up.
var (
	versionRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9A-Za-z^~<>=*][0-9A-Za-z.+_<>=~^ |*-]{0,63}$`)
	})
	exactRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	})
)

// categorized is an error of a category whose own text is not repeated in the message.
type categorized struct {
	cat error
	msg string
}

func (e categorized) Error() string        { return e.msg }
func (e categorized) Is(target error) bool { return target == e.cat }

func errorOf(cat error, format string, a ...any) error {
	return categorized{cat: cat, msg: fmt.Sprintf(format, a...)}
}

// CheckVersion validates a requested version: an exact version, a dist-tag or a range.
func CheckVersion(v string) error {
	if v == "" || versionRE().MatchString(v) && !strings.Contains(v, "..") {
		return nil
	}
	return errorOf(ErrBadVersion, "--agent-version %q: give a version such as 1.2.3, or a tag such as latest", v)
}

// Installer keeps the shared, versioned, read-only agent cache: Root/AGENT/VERSION holds
// the host npm's install of the agent's package at that version (node_modules/.bin/BIN). A version folder appears
// complete or not at all (installed in a temporary folder and renamed into place), and is
// read-only once there.
type Installer struct {
	Root string // PADDOCK_HOME/agents
	// Progress receives status lines (stderr); TTY draws a live progress line instead.
	Progress io.Writer
	TTY      bool
	// NPM is the npm command (default: npm on PATH).
	NPM string
	// Timeout bounds asking the registry for the latest version (default 30s).
	Timeout time.Duration
	// Sandbox makes the install sandboxes npm runs in; without one nothing is installed.
	Sandbox InstallSandbox
	// AuthTokens carries the user's npm auth token for the registry into the install sandbox
	// (a private registry); by default no credential enters it.
	AuthTokens bool
	// UpdateEvery is how often a sandbox that follows the latest version has the registry asked
	// for a newer one (0: once a day; negative: never, only `paddock agents update`).
	UpdateEvery time.Duration
	// Background starts `paddock agents update AGENT` apart from this process (nil: no
	// background updates).
	Background func(agent, backend string) error

	mu     sync.Mutex
	latest map[string]string
	// verify checks an install with the registry (default verifyInstall; unit tests' fake npm
	// has no registry).
	verify func(ctx context.Context, s npmSettings, pkg, dir string) (installCheck, error)
	// distTag asks the registry which version a dist-tag names (default registryTag; unit
	// tests' fake npm has no registry).
	distTag func(ctx context.Context, s npmSettings, pkg, tag string) (string, error)
}

// Installed is one installed version of an agent.
type Installed struct {
	Agent   string `json:"agent"`
	Version string `json:"version"`
	Dir     string `json:"path"`
}

// Bin is the path of the agent's executable on the host.
func (i Installed) Bin(a Agent) string {
	return filepath.Join(i.Dir, "node_modules", ".bin", a.Info().Bin)
}

func (in *Installer) npm() (string, error) {
	name := in.NPM
	if name == "" {
		name = "npm"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: paddock reads your npm settings and asks the registry for versions with the host's npm (the install itself runs in a sandbox); install Node.js and npm on this machine (e.g. apt-get install nodejs npm)", ErrNoNPM)
	}
	return p, nil
}

func (in *Installer) say(format string, a ...any) {
	if in.Progress != nil {
		fmt.Fprintf(in.Progress, "paddock: "+format+"\n", a...)
	}
}

// Cached lists the installed versions of an agent, newest first.
func (in *Installer) Cached(agent string) []Installed {
	entries, _ := os.ReadDir(filepath.Join(in.Root, agent))
	var out []Installed
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, Installed{Agent: agent, Version: e.Name(), Dir: filepath.Join(in.Root, agent, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return CompareVersions(out[i].Version, out[j].Version) > 0 })
	return out
}

// Ensure returns the agent installed at the requested version ("" or "latest": the registry's
// latest), installing it first when the cache lacks it.
func (in *Installer) Ensure(ctx context.Context, a Agent, want string) (Installed, error) {
	return in.EnsureOn(ctx, a, want, "")
}

// EnsureOn is Ensure with the install sandbox on the named backend. Following the latest with a
// version installed starts that version without asking the registry; a check for a newer one
// runs in the background at most every UpdateEvery.
func (in *Installer) EnsureOn(ctx context.Context, a Agent, want, backend string) (Installed, error) {
	info := a.Info()
	if info.Package == "" {
		return Installed{}, fmt.Errorf("agent %s is not installed from npm", a.Name())
	}
	if err := CheckVersion(want); err != nil {
		return Installed{}, err
	}
	latest := want == "" || want == "latest"
	if latest {
		if v := in.knownLatest(a.Name()); v != "" && isDir(filepath.Join(in.Root, a.Name(), v)) {
			in.maybeUpdate(a.Name(), backend)
			return Installed{Agent: a.Name(), Version: v, Dir: filepath.Join(in.Root, a.Name(), v)}, nil
		}
	}
	// Installing is likely from here on: the user's npm settings are read while the registry is
	// asked for the version (two npm processes at once rather than one after the other).
	var config func() (npmSettings, error)
	if !exactRE().MatchString(strings.TrimPrefix(want, "v")) {
		config = in.readConfig(ctx)
	}
	version, err := in.resolve(ctx, a, want, config)
	if err != nil {
		return Installed{}, err
	}
	dir := filepath.Join(in.Root, a.Name(), version)
	if latest {
		in.touchChecked(a.Name())
	}
	if !isDir(dir) {
		if err := in.install(ctx, a, version, dir, backend, config); err != nil {
			return Installed{}, err
		}
	}
	if latest {
		in.setLatest(a.Name(), version)
	}
	return Installed{Agent: a.Name(), Version: version, Dir: dir}, nil
}

// Resolve turns a requested version into an exact one. An exact version is taken as is (no
// network); a tag or range is asked of the registry. Without a version, the registry's latest;
// when the registry cannot be reached, the newest installed version.
func (in *Installer) Resolve(ctx context.Context, a Agent, want string) (string, error) {
	return in.resolve(ctx, a, want, nil)
}

// resolve is Resolve; with the user's npm settings (config, non-nil), a dist-tag (the latest
// included) is asked of the registry directly (tagVersion), and npm only when that fails.
func (in *Installer) resolve(ctx context.Context, a Agent, want string, config func() (npmSettings, error)) (string, error) {
	want = strings.TrimPrefix(want, "v")
	if exactRE().MatchString(want) {
		return want, nil
	}
	latest := want == "" || want == "latest"
	if latest {
		in.mu.Lock()
		v, ok := in.latest[a.Name()]
		in.mu.Unlock()
		if ok {
			return v, nil
		}
	}
	pkg := a.Info().Package
	spec := pkg
	if !latest {
		spec = pkg + "@" + want
	}
	v, err := in.tagVersion(ctx, pkg, orLatest(want), config)
	if err != nil {
		v, err = in.view(ctx, spec)
	}
	if err == nil {
		if latest {
			in.mu.Lock()
			if in.latest == nil {
				in.latest = map[string]string{}
			}
			in.latest[a.Name()] = v
			in.mu.Unlock()
		}
		return v, nil
	}
	if errors.Is(err, ErrUnknownVersion) {
		return "", errorOf(ErrUnknownVersion, "npm has no version %q of %s (see `npm view %s versions`)", want, pkg, pkg)
	}
	if latest {
		if cached := in.Cached(a.Name()); len(cached) > 0 {
			in.say("warning: cannot ask the npm registry for the latest %s (%v); using the newest installed version, %s",
				a.Name(), err, cached[0].Version)
			return cached[0].Version, nil
		}
	}
	return "", fmt.Errorf("cannot find %s %s: %w; check the network, or pin an installed version with --agent-version", a.Name(), orLatest(want), err)
}

func orLatest(v string) string {
	if v == "" {
		return "latest"
	}
	return v
}

// tagRE matches a dist-tag (latest, next, beta), not a version range.
var tagRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`) })

// tagVersion asks the registry which version pkg's dist-tag names, as the user's npm would ask
// it (their registry, proxy and CA, from config) but in one small request from this process:
// `npm view` starts Node and fetches the whole packument (~0.9 s for Claude Code, against
// ~0.1 s). It fails, for the caller to ask npm, when there are no settings, when tag is a range,
// and when the registry does not answer such a request (a private registry that wants the
// user's token, which paddock does not send).
func (in *Installer) tagVersion(ctx context.Context, pkg, tag string, config func() (npmSettings, error)) (string, error) {
	if config == nil || !tagRE().MatchString(tag) {
		return "", errors.New("not a dist-tag, or no npm settings")
	}
	s, err := config()
	if err != nil {
		return "", err
	}
	lookup := in.distTag
	if lookup == nil {
		lookup = registryTag
	}
	v, err := lookup(ctx, s, pkg, tag)
	if err != nil {
		slog.Debug("asking the registry for a dist-tag", "package", pkg, "tag", tag, "err", err)
		return "", err
	}
	if !exactRE().MatchString(v) {
		return "", fmt.Errorf("the registry names %q as %s@%s", truncate(v, 80), pkg, tag)
	}
	return v, nil
}

// view asks npm for the version a package spec resolves to (the highest, for a range).
func (in *Installer) view(ctx context.Context, spec string) (string, error) {
	npm, err := in.npm()
	if err != nil {
		return "", err
	}
	timeout := in.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "view", spec, "version", "--json")
	cmd.Env = npmEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("npm view %s timed out after %s", spec, timeout)
		}
		if npmNotFound(errb.String() + out.String()) {
			return "", ErrUnknownVersion
		}
		return "", fmt.Errorf("npm view %s: %s", spec, npmError(errb.String()+out.String(), err))
	}
	var one string
	var many []string
	b := bytes.TrimSpace(out.Bytes())
	switch {
	case len(b) == 0:
		return "", ErrUnknownVersion
	case json.Unmarshal(b, &one) == nil:
	case json.Unmarshal(b, &many) == nil && len(many) > 0:
		sort.Slice(many, func(i, j int) bool { return CompareVersions(many[i], many[j]) < 0 })
		one = many[len(many)-1]
	default:
		return "", fmt.Errorf("npm view %s: unexpected output %q", spec, truncate(string(b), 80))
	}
	if !exactRE().MatchString(one) {
		return "", fmt.Errorf("npm view %s: unexpected version %q", spec, truncate(one, 80))
	}
	return one, nil
}

// npmEnv is the host's environment without npm's update and funding chatter.
func npmEnv() []string {
	return append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
}

func npmNotFound(out string) bool {
	return strings.Contains(out, "ETARGET") || strings.Contains(out, "code E404") || strings.Contains(out, "No matching version")
}

// npmError picks the line of npm's output that says what went wrong.
func npmError(out string, err error) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		rest, ok := strings.CutPrefix(l, "npm error ")
		if !ok {
			rest, ok = strings.CutPrefix(l, "npm ERR! ")
		}
		if !ok || rest == "" || strings.HasPrefix(rest, "A complete log") || strings.HasPrefix(rest, "code ") {
			continue
		}
		lines = append(lines, rest)
		if len(lines) == 2 {
			break
		}
	}
	if len(lines) == 0 {
		return err.Error()
	}
	return truncate(strings.Join(lines, ": "), 300)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// install puts version of the agent at dir: under a per-version lock (a second paddock
// installing the same version waits, then finds it), in a temporary folder renamed into place
// once complete, read-only. npm runs in an install sandbox (Sandbox): nothing a package's install
// scripts do reaches the host beyond that folder, and its network reaches only the registry.
func (in *Installer) install(ctx context.Context, a Agent, version, dir, backend string, config func() (npmSettings, error)) error {
	if in.Sandbox == nil {
		return fmt.Errorf("installing %s %s: no install sandbox (paddock never runs a package's install scripts on the host)", a.Name(), version)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating the agent cache: %w", err)
	}
	unlock, _, err := lockPath(filepath.Join(parent, "."+version+".lock"), func() {
		in.say("waiting for another paddock to finish installing %s %s", a.Name(), version)
	})
	if err != nil {
		return err
	}
	defer unlock()
	if isDir(dir) {
		return nil
	}
	// Leftovers of installs that were killed: nobody else works on this version (we hold its lock).
	for _, pat := range []string{".tmp-", ".npm-", ".out-"} {
		old, _ := filepath.Glob(filepath.Join(parent, pat+version+"-*"))
		for _, o := range old {
			removeAll(o)
		}
	}
	pkg := a.Info().Package
	spec := pkg + "@" + version
	if config == nil {
		config = in.readConfig(ctx)
	}
	settings, err := config()
	if err != nil {
		return fmt.Errorf("installing %s %s: %w", a.Name(), version, err)
	}
	allow, _, err := registryRules(ctx, settings.Registry)
	if err != nil {
		return fmt.Errorf("installing %s %s: %w", a.Name(), version, err)
	}
	allow = append(allow, BinaryHosts...)
	tmp, err := os.MkdirTemp(parent, ".tmp-"+version+"-")
	if err != nil {
		return fmt.Errorf("creating the agent cache: %w", err)
	}
	done := false
	defer func() {
		if !done {
			removeAll(tmp)
		}
	}()
	os.Chmod(tmp, 0o755)
	cfg, err := os.MkdirTemp(parent, ".npm-"+version+"-")
	if err != nil {
		return fmt.Errorf("creating the agent cache: %w", err)
	}
	defer removeAll(cfg)
	os.Chmod(cfg, 0o755)
	manifest := fmt.Sprintf("{\n  \"private\": true,\n  \"description\": \"paddock agent cache: %s\"\n}\n", spec)
	npmrc := strings.Join(settings.Lines, "\n") + "\n"
	for _, f := range []struct {
		path string
		data []byte
	}{{filepath.Join(tmp, "package.json"), []byte(manifest)}, {filepath.Join(cfg, "npmrc"), []byte(npmrc)},
		{filepath.Join(cfg, "global-npmrc"), nil}, {filepath.Join(cfg, "ca.pem"), settings.CA}} {
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("creating the agent cache: %w", err)
		}
	}
	env := []string{"NPM_CONFIG_USERCONFIG=" + InstallConfigDir + "/npmrc", "NPM_CONFIG_GLOBALCONFIG=" + InstallConfigDir + "/global-npmrc",
		"npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false",
		// The packages' install scripts run as their authors meant, inside the fence (npm 11.x
		// otherwise skips those its allowScripts policy does not name; older npm ignores this).
		"npm_config_dangerously_allow_all_scripts=true"}
	if settings.CA != nil {
		env = append(env, "NPM_CONFIG_CAFILE="+InstallConfigDir+"/ca.pem")
	}
	if isLoopbackHost(settings.Registry) {
		// A registry on this machine's loopback is reached through the proxy, which dials it on
		// the host side (inside, 127.0.0.1 is the sandbox's own).
		env = append(env, "NO_PROXY=", "no_proxy=", "NPM_CONFIG_NOPROXY=")
	}
	rec := &InstallRecord{Agent: a.Name(), Version: version, Package: pkg, Time: time.Now().UTC().Truncate(time.Second),
		Registry: settings.Registry, Allowed: allow, Backend: backend, Log: in.LogPath(a.Name(), version),
		Proxy: redactProxy(settings.Proxy)}

	// Ctrl-C, a hang-up or a stop request ends the install sandbox and cleans up rather than
	// leaving a half install.
	sctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	start := time.Now()
	prog := in.startProgress(a.Name(), version, pkg, tmp, start)
	out, outErr := os.CreateTemp(parent, ".out-"+version+"-")
	if outErr != nil {
		prog(false)
		return fmt.Errorf("creating the agent cache: %w", outErr)
	}
	defer func() {
		out.Close()
		os.Remove(out.Name())
	}()
	fail := func(err error) error {
		rec.Error = err.Error()
		rec.Seconds = time.Since(start).Seconds()
		in.writeRecord(rec, readAll(out))
		return err
	}
	box, err := in.Sandbox.Open(sctx, InstallJob{Agent: a.Name(), Package: pkg, Version: version, Dir: tmp, Config: cfg,
		Env: env, Allow: allow, Backend: backend, Upstream: settings.Proxy})
	if err != nil {
		prog(false)
		if sctx.Err() != nil {
			return fmt.Errorf("installing %s %s: interrupted; nothing was installed", a.Name(), version)
		}
		return fail(fmt.Errorf("installing %s %s: cannot make the install sandbox: %w", a.Name(), version, err))
	}
	slog.Debug("install sandbox ready", "seconds", time.Since(start).Seconds())
	closed := false
	closeBox := func() {
		if !closed {
			closed = true
			box.Close()
		}
	}
	defer closeBox()
	npmStart := time.Now()
	// Saved as the folder's dependency: package-lock.json then lists what was installed, with
	// the integrity of each package, which paddock checks with the registry.
	code, err := box.Run(sctx, []string{"npm", "install", "--no-audit", "--no-fund", "--no-update-notifier", "--save-exact",
		"--foreground-scripts", "--loglevel=warn", spec}, out)
	rec.NPMSeconds = time.Since(npmStart).Seconds()
	// The registry's word on what was installed, asked by paddock itself (not by anything in
	// the sandbox): the same integrity, its signature, the agent's provenance where offered.
	// It reads only the lock file npm wrote, so it is asked while the sandbox is taken down.
	verify := in.verify
	if verify == nil {
		verify = verifyInstall
	}
	type verified struct {
		check   installCheck
		err     error
		seconds float64
	}
	verCh := make(chan verified, 1)
	if err == nil && code == 0 {
		go func() {
			t := time.Now()
			c, e := verify(sctx, settings, pkg, tmp)
			verCh <- verified{c, e, time.Since(t).Seconds()}
		}()
	} else {
		close(verCh)
	}
	// The files first: listing a Docker sandbox's home needs it running.
	rec.Strays = box.Strays()
	rec.Hosts = box.Hosts()
	slog.Debug("install: npm done, files and hosts listed", "seconds", time.Since(start).Seconds())
	closeBox()
	slog.Debug("install sandbox removed", "seconds", time.Since(start).Seconds())
	prog(err == nil && code == 0)
	rec.Integrity = "not checked"
	rec.Signatures = "not checked"
	if sctx.Err() != nil {
		return fail(fmt.Errorf("installing %s %s: interrupted; nothing was installed", a.Name(), version))
	}
	if err != nil {
		return fail(fmt.Errorf("installing %s %s in the install sandbox: %w", a.Name(), version, err))
	}
	text := string(readAll(out))
	var refused []string
	for _, h := range rec.Hosts {
		if !h.Allowed && !h.Listed {
			refused = append(refused, hostRule(h.Host, strconv.Itoa(h.Port)))
		}
	}
	if code != 0 {
		if npmNotFound(text) {
			return fail(errorOf(ErrUnknownVersion, "npm has no version %q of %s (see `npm view %s versions`)", version, pkg, pkg))
		}
		if npmIntegrity(text) {
			rec.Integrity = "FAILED"
			return fail(fmt.Errorf("%w: installing %s %s: a package does not match the registry's integrity hash; kept what was installed (log: %s)", ErrRefused, a.Name(), version, rec.Log))
		}
		what := "npm failed"
		if strings.Contains(text, "command failed") {
			what = "an install script failed"
		}
		return fail(fmt.Errorf("installing %s %s failed: %s: %s (log: %s)", a.Name(), version, what, npmError(text, fmt.Errorf("npm exited with %d", code)), rec.Log))
	}
	rec.Integrity = "verified (sha512, by npm)"
	v := <-verCh
	check, verr := v.check, v.err
	rec.SignaturesSeconds = v.seconds
	rec.Signatures, rec.Provenance, rec.Checked = check.Summary, check.Provenance, check.Packages
	if verr != nil {
		rec.Signatures = "FAILED: " + verr.Error()
	} else {
		rec.Integrity = "verified (sha512, by npm; the registry's for every package)"
	}
	if len(refused) > 0 {
		return fail(fmt.Errorf("%w: installing %s %s: its install scripts reached for %s, which is not the registry (log: %s)", ErrRefused, a.Name(), version, strings.Join(refused, ", "), rec.Log))
	}
	if bad := outsideWrites(rec.Strays, a.Info().Bin); len(bad) > 0 {
		return fail(fmt.Errorf("%w: installing %s %s: its install scripts wrote outside its folder (%s) (log: %s)", ErrRefused, a.Name(), version, truncate(strings.Join(bad, ", "), 120), rec.Log))
	}
	if verr != nil {
		if errors.Is(verr, npmtrust.ErrMismatch) {
			return fail(fmt.Errorf("%w: installing %s %s: %v (log: %s)", ErrRefused, a.Name(), version, verr, rec.Log))
		}
		return fail(fmt.Errorf("%w: installing %s %s: cannot check it with the registry: %v (log: %s)", ErrRefused, a.Name(), version, verr, rec.Log))
	}
	bin := filepath.Join(tmp, "node_modules", ".bin", a.Info().Bin)
	if _, err := os.Stat(bin); err != nil {
		return fail(fmt.Errorf("installing %s %s: npm did not install the %s command (log: %s)", a.Name(), version, a.Info().Bin, rec.Log))
	}
	if err := makeReadOnly(tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fail(fmt.Errorf("installing %s %s: %w", a.Name(), version, err))
	}
	done = true
	if d, err := os.Open(parent); err == nil {
		d.Sync()
		d.Close()
	}
	rec.OK = true
	rec.Seconds = time.Since(start).Seconds()
	in.writeRecord(rec, readAll(out))
	in.say("installed %s %s (%s) in %.1fs", a.Name(), version, formatSize(dirSize(dir)), time.Since(start).Seconds())
	return nil
}

// npmIntegrity reports whether npm refused a tarball that does not match its integrity hash.
func npmIntegrity(out string) bool {
	return strings.Contains(out, "EINTEGRITY") || strings.Contains(out, "integrity checksum failed")
}

// startProgress shows the install going on: a live line on a terminal, one plain line otherwise.
// The returned function ends it.
func (in *Installer) startProgress(agent, version, pkg, dir string, start time.Time) func(ok bool) {
	if in.Progress == nil {
		return func(bool) {}
	}
	if !in.TTY {
		in.say("installing %s %s from the npm registry (%s)", agent, version, pkg)
		return func(bool) {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		frames := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		size, last := int64(0), time.Time{}
		for i := 0; ; i++ {
			if time.Since(last) > 600*time.Millisecond {
				size, last = dirSize(dir), time.Now()
			}
			fmt.Fprintf(in.Progress, "\r\033[K%c installing %s %s (%s): %s, %ds", frames[i%len(frames)], agent, version, pkg,
				formatSize(size), int(time.Since(start).Seconds()))
			select {
			case <-stop:
				fmt.Fprint(in.Progress, "\r\033[K")
				return
			case <-tick.C:
			}
		}
	}()
	return func(bool) {
		close(stop)
		wg.Wait()
	}
}

// NeedsNode reports whether an installed agent's command is a script run by Node.js (a native
// binary is not).
func (in Installed) NeedsNode(a Agent) bool {
	f, err := os.Open(in.Bin(a))
	if err != nil {
		return true
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return !bytes.Equal(head[:n], []byte("\x7fELF"))
}

// Remove deletes an installed version (its folder is read-only).
func (in *Installer) Remove(agent, version string) error {
	return removeAll(filepath.Join(in.Root, agent, version))
}

// CompareVersions orders versions like semver: numerically by dotted parts, a pre-release before
// its release.
func CompareVersions(a, b string) int {
	a, b = strings.TrimPrefix(a, "v"), strings.TrimPrefix(b, "v")
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	ac, apre, _ := strings.Cut(a, "-")
	bc, bpre, _ := strings.Cut(b, "-")
	if c := compareDotted(ac, bc); c != 0 {
		return c
	}
	switch {
	case apre == bpre:
		return 0
	case apre == "":
		return 1
	case bpre == "":
		return -1
	}
	return compareDotted(apre, bpre)
}

func compareDotted(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		if i >= len(as) {
			return -1
		}
		if i >= len(bs) {
			return 1
		}
		an, aerr := strconv.ParseUint(as[i], 10, 64)
		bn, berr := strconv.ParseUint(bs[i], 10, 64)
		switch {
		case aerr == nil && berr == nil && an != bn:
			if an < bn {
				return -1
			}
			return 1
		case aerr == nil && berr != nil:
			return -1
		case aerr != nil && berr == nil:
			return 1
		case aerr != nil && berr != nil && as[i] != bs[i]:
			return strings.Compare(as[i], bs[i])
		}
	}
	return 0
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// makeReadOnly drops write permission on everything below dir.
func makeReadOnly(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		return os.Chmod(p, info.Mode().Perm()&^0o222)
	})
	if err != nil {
		return fmt.Errorf("making the agent cache read-only: %w", err)
	}
	// Folders last, deepest first, so the walk above could still read them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return fmt.Errorf("making the agent cache read-only: %w", err)
		}
	}
	return nil
}

// removeAll deletes a tree that may contain read-only folders.
func removeAll(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// dirSize is the size of the files below dir, each hard-linked file once.
func dirSize(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				if ino, ok := hardLinked(info); ok {
					if seen[ino] {
						return nil
					}
					seen[ino] = true
				}
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// lockPath takes an exclusive lock on path, calling waiting once if another process holds it.
func lockPath(path string, waiting func()) (unlock func(), waited bool, err error) {
	unlock, waited, err = flock.Acquire(path, flock.Options{Waiting: waiting, Perm: 0o644})
	if err != nil {
		return nil, false, fmt.Errorf("locking the agent cache: %w", err)
	}
	return unlock, waited, nil
}
