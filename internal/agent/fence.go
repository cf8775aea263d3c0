package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrRefused marks a version paddock would not keep: its install broke a rule of the install
// sandbox (reached for a host other than the registry, wrote outside its folder) or failed a
// signature check.
var ErrRefused = errors.New("agent version refused")

// InstallConfigDir is where the install sandbox shows the npm settings carried over from the
// user's (read-only): npmrc and the CA file it names.
const InstallConfigDir = "/paddock/npm"

// BinaryHosts are the hosts an agent's dependencies are known to download prebuilt binaries
// from at install time (Gemini CLI's keytar and node-pty through prebuild-install, node-gyp's
// headers): the install sandbox allows them beside the registry, and `paddock agents` lists them.
var BinaryHosts = []string{"github.com:443", "objects.githubusercontent.com:443", "nodejs.org:443"}

// InstallJob is one npm install handed to the install sandbox.
type InstallJob struct {
	Agent, Package, Version string
	// Dir is the version's temporary folder on the host: the only folder of the user's the
	// sandbox sees, read-write at AgentDir.
	Dir string
	// Config is a host folder shown read-only at InstallConfigDir (the npmrc, the CA).
	Config string
	// Env is the environment of npm inside (where its config is, no update chatter).
	Env []string
	// Allow are the egress rules of the install: the registry (by name and by the addresses it
	// resolves to now) and BinaryHosts.
	Allow []string
	// Backend names the engine of the sandbox that needs the agent ("": the default).
	Backend string
	// Upstream is the user's npm proxy for the registry (http://[user:pass@]host:port): the
	// install's egress proxy reaches the registry through it, on the host side (its credentials
	// never enter the sandbox).
	Upstream string
}

// HostUse is one connection the install asked for, as the egress proxy judged it.
type HostUse struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Allowed bool   `json:"allowed"`
	// Listed: the host is one the install may reach (the registry, a binary host), even if this
	// connection failed (the name does not resolve here, say).
	Listed bool   `json:"listed"`
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
	Count  int    `json:"count"`
}

// InstallBox is an install sandbox that runs: commands run in it, in AgentDir.
type InstallBox interface {
	// Run runs argv in the sandbox with the job's environment; stdout and stderr go to out.
	Run(ctx context.Context, argv []string, out *os.File) (int, error)
	// Hosts are the connections judged so far.
	Hosts() []HostUse
	// Strays are files the install left in the sandbox outside its folder (its private home,
	// /tmp and /var), npm's own cache and logs aside.
	Strays() []string
	// Close stops the sandbox (every process in it) and removes its private state.
	Close() error
}

// InstallSandbox makes install sandboxes: paddock's own engine, the backend of the sandbox that
// needs the agent.
type InstallSandbox interface {
	Open(ctx context.Context, job InstallJob) (InstallBox, error)
}

// InstallRecord is what paddock keeps of one install (AGENT/.log/VERSION.json beside the
// output in VERSION.log).
type InstallRecord struct {
	Agent   string    `json:"agent"`
	Version string    `json:"version"`
	Package string    `json:"package"`
	Time    time.Time `json:"time"`
	Seconds float64   `json:"seconds"`
	// NPMSeconds and SignaturesSeconds are the npm install's and the signature check's share.
	NPMSeconds        float64   `json:"npm_seconds"`
	SignaturesSeconds float64   `json:"signatures_seconds"`
	OK                bool      `json:"ok"`
	Error             string    `json:"error,omitempty"`
	Registry          string    `json:"registry"`
	Allowed           []string  `json:"allowed_hosts"`
	Hosts             []HostUse `json:"hosts"`
	Strays            []string  `json:"written_outside,omitempty"`
	// Integrity: npm checked every tarball against the registry's integrity hash (sha512).
	Integrity string `json:"integrity"`
	// Signatures is what paddock's check with the registry found: "signed by registry;
	// provenance: github.com/OWNER/REPO@REF; dependencies: N of M signed", "no registry signature
	// offered; no provenance offered", or why the version was refused.
	Signatures string `json:"signatures"`
	// Provenance is the source the agent's package was built from, per its verified SLSA
	// provenance attestation (empty: none offered).
	Provenance string `json:"provenance,omitempty"`
	// Checked is how many packages were checked with the registry.
	Checked int `json:"packages_checked,omitempty"`
	// Proxy is the user's npm proxy the install went through (credentials removed).
	Proxy   string `json:"proxy,omitempty"`
	Backend string `json:"backend,omitempty"`
	Log     string `json:"log"`
}

func (in *Installer) logDir(agent string) string { return filepath.Join(in.Root, agent, ".log") }

// LogPath is the install log of a version (npm's output, then the hosts it reached).
func (in *Installer) LogPath(agent, version string) string {
	return filepath.Join(in.logDir(agent), version+".log")
}

// Record reads what paddock kept of a version's install (nil if nothing).
func (in *Installer) Record(agent, version string) *InstallRecord {
	b, err := os.ReadFile(filepath.Join(in.logDir(agent), version+".json"))
	if err != nil {
		return nil
	}
	var r InstallRecord
	if json.Unmarshal(b, &r) != nil {
		return nil
	}
	return &r
}

func (in *Installer) writeRecord(r *InstallRecord, output []byte) {
	dir := in.logDir(r.Agent)
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	var b bytes.Buffer
	b.Write(output)
	fmt.Fprintf(&b, "\n--- paddock: %s %s from %s (allowed: %s)\n", r.Agent, r.Version, r.Registry, strings.Join(r.Allowed, " "))
	for _, h := range r.Hosts {
		d := "reached"
		if !h.Allowed {
			d = "REFUSED (" + h.Reason + ")"
		}
		fmt.Fprintf(&b, "--- host %s:%d %s x%d\n", h.Host, h.Port, d, h.Count)
	}
	for _, s := range r.Strays {
		fmt.Fprintf(&b, "--- wrote outside its folder (in the install sandbox, discarded with it): %s\n", s)
	}
	if r.Proxy != "" {
		fmt.Fprintf(&b, "--- through your npm proxy %s\n", r.Proxy)
	}
	fmt.Fprintf(&b, "--- integrity: %s\n--- signatures: %s\n", r.Integrity, r.Signatures)
	if r.Error != "" {
		fmt.Fprintf(&b, "--- refused: %s\n", r.Error)
	}
	os.WriteFile(r.Log, b.Bytes(), 0o644)
	j, _ := json.MarshalIndent(r, "", "  ")
	os.WriteFile(filepath.Join(dir, r.Version+".json"), append(j, '\n'), 0o644)
}

// npmSettings is the part of the user's npm configuration an install carries over.
type npmSettings struct {
	Registry string
	Proxy    string   // the user's proxy for the registry (https-proxy or proxy), "" for none
	Lines    []string // npmrc lines
	CA       []byte   // the cafile's content
}

// readConfig starts reading the user's npm settings and returns a function that waits for them.
func (in *Installer) readConfig(ctx context.Context) func() (npmSettings, error) {
	type result struct {
		s   npmSettings
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := in.npmConfig(ctx)
		ch <- result{s, err}
	}()
	var once sync.Once
	var r result
	return func() (npmSettings, error) {
		once.Do(func() { r = <-ch })
		return r.s, r.err
	}
}

// carriedKeys are the npm settings taken from the user's configuration: where packages come
// from and how the registry's certificate is checked. Never auth tokens (unless AuthTokens).
var carriedKeys = []string{"registry", "strict-ssl", "ca", "replace-registry-host", "fetch-retries", "fetch-timeout"}

// npmConfig reads the user's effective npm configuration (`npm config list --json`, which hides
// credentials) and, with auth, the registry's token lines of the user's npmrc.
func (in *Installer) npmConfig(ctx context.Context) (npmSettings, error) {
	npm, err := in.npm()
	if err != nil {
		return npmSettings{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "config", "list", "--json")
	cmd.Env = npmEnv()
	out, err := cmd.Output()
	if err != nil {
		return npmSettings{}, fmt.Errorf("reading your npm configuration (npm config list): %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		return npmSettings{}, fmt.Errorf("reading your npm configuration: %w", err)
	}
	s := npmSettings{Registry: "https://registry.npmjs.org/"}
	if r, ok := cfg["registry"].(string); ok && r != "" {
		s.Registry = r
	}
	keys := append([]string(nil), carriedKeys...)
	for k := range cfg {
		if strings.HasPrefix(k, "@") && strings.HasSuffix(k, ":registry") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys[len(carriedKeys):])
	for _, k := range keys {
		switch v := cfg[k].(type) {
		case string:
			if v != "" {
				s.Lines = append(s.Lines, k+"="+v)
			}
		case bool:
			s.Lines = append(s.Lines, k+"="+strconv.FormatBool(v))
		case float64:
			s.Lines = append(s.Lines, k+"="+strconv.FormatFloat(v, 'f', -1, 64))
		case []any:
			for _, e := range v {
				if es, ok := e.(string); ok && k == "ca" {
					s.Lines = append(s.Lines, "ca[]="+strconv.Quote(es))
				}
			}
		}
	}
	s.Proxy = registryProxy(cfg, s.Registry)
	if f, ok := cfg["cafile"].(string); ok && f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return npmSettings{}, fmt.Errorf("your npm configuration names cafile %s: %w", f, err)
		}
		s.CA = b
		s.Lines = append(s.Lines, "cafile="+InstallConfigDir+"/ca.pem")
	}
	if in.AuthTokens {
		s.Lines = append(s.Lines, userAuthLines(s.Registry)...)
	}
	return s, nil
}

// registryProxy is the proxy the user's npm uses for registry: https-proxy for an https
// registry (else proxy), none when noproxy names the registry's host.
func registryProxy(cfg map[string]any, registry string) string {
	str := func(k string) string {
		v, _ := cfg[k].(string)
		return v
	}
	p := str("proxy")
	if strings.HasPrefix(registry, "https:") && str("https-proxy") != "" {
		p = str("https-proxy")
	}
	if p == "" {
		return ""
	}
	u, err := url.Parse(registry)
	if err != nil {
		return p
	}
	host := strings.ToLower(u.Hostname())
	var no []string
	switch v := cfg["noproxy"].(type) {
	case string:
		no = strings.Split(v, ",")
	case []any:
		for _, e := range v {
			if es, ok := e.(string); ok {
				no = append(no, strings.Split(es, ",")...)
			}
		}
	}
	for _, n := range no {
		n = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(n), "."))
		if n != "" && (host == n || strings.HasSuffix(host, "."+n)) {
			return ""
		}
	}
	return p
}

// redactProxy is a proxy URL without its credentials.
func redactProxy(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.User == nil {
		return p
	}
	u.User = nil
	return u.String()
}

// userAuthLines are the lines of the user's npmrc that authenticate to registry (//host/...:
// _authToken, _auth, username, _password), given only when the user asked for it.
func userAuthLines(registry string) []string {
	path := os.Getenv("NPM_CONFIG_USERCONFIG")
	if path == "" {
		path = os.Getenv("npm_config_userconfig")
	}
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".npmrc")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	u, err := url.Parse(registry)
	if err != nil {
		return nil
	}
	prefix := "//" + u.Host
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, prefix) && strings.Contains(l, ":_") || strings.HasPrefix(l, prefix) && strings.Contains(l, ":username") {
			out = append(out, l)
		}
	}
	return out
}

// registryRules are the egress rules that let an install reach registry and nothing else: its
// host and port by name, and each address the name resolves to now by itself (a registry mirror
// on a private or reserved address is reached without opening that range to anything else).
func registryRules(ctx context.Context, registry string) ([]string, string, error) {
	u, err := url.Parse(registry)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, "", fmt.Errorf("your npm registry %q is not an http(s) URL", registry)
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	hp := net.JoinHostPort(host, port)
	rules := []string{hostRule(host, port)}
	if net.ParseIP(host) == nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		addrs, _ := net.DefaultResolver.LookupIPAddr(rctx, host)
		cancel()
		for _, a := range addrs {
			rules = append(rules, hostRule(a.IP.String(), port))
		}
	}
	return rules, hp, nil
}

func hostRule(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// isLoopbackHost reports whether a registry URL's host is this machine's loopback, which the
// install sandbox reaches through the proxy only.
func isLoopbackHost(registry string) bool {
	u, err := url.Parse(registry)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// signatures reads `npm audit signatures --json` output: verified counts, not offered, or bad.
func signatures(code int, out []byte) (summary string, bad error) {
	text := string(out)
	var r struct {
		Invalid []struct {
			Name, Version string
		} `json:"invalid"`
		Missing []struct {
			Name, Version string
		} `json:"missing"`
		Error *struct {
			Code, Summary string
		} `json:"error"`
	}
	// npm prints its JSON after any warnings.
	if i := strings.Index(text, "{"); i >= 0 {
		json.Unmarshal([]byte(text[i:]), &r)
	}
	if len(r.Invalid) > 0 {
		var names []string
		for _, p := range r.Invalid {
			names = append(names, p.Name+"@"+p.Version)
		}
		return "INVALID: " + strings.Join(names, ", "), fmt.Errorf("%w: the registry's signature or provenance attestation does not match %s", ErrRefused, strings.Join(names, ", "))
	}
	if r.Error != nil {
		s := r.Error.Summary
		if s == "" {
			s = r.Error.Code
		}
		return "not offered by the registry (" + truncate(strings.TrimSpace(s), 120) + ")", nil
	}
	if strings.Contains(text, "no installed dependencies to audit") || strings.Contains(text, "installed from a supported registry") {
		return "not offered by the registry", nil
	}
	if code != 0 {
		return "not checked (npm audit signatures: " + truncate(strings.TrimSpace(npmError(text, fmt.Errorf("exit %d", code))), 160) + ")", nil
	}
	if len(r.Missing) > 0 {
		return fmt.Sprintf("verified where offered (%d packages without a signature)", len(r.Missing)), nil
	}
	return "verified (registry signatures and provenance attestations where published)", nil
}

// readAll reads a file written by a sandboxed command (what a hostile script printed, bounded).
func readAll(f *os.File) []byte {
	f.Seek(0, io.SeekStart)
	b, _ := io.ReadAll(io.LimitReader(f, 4<<20))
	return b
}

// LastFailed is the newest install of the agent that failed or was refused, if it is newer than
// every successful one (nil otherwise).
func (in *Installer) LastFailed(agent string) *InstallRecord {
	entries, _ := os.ReadDir(in.logDir(agent))
	var last, lastOK *InstallRecord
	for _, e := range entries {
		v, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		r := in.Record(agent, v)
		if r == nil {
			continue
		}
		if r.OK {
			if lastOK == nil || r.Time.After(lastOK.Time) {
				lastOK = r
			}
		} else if last == nil || r.Time.After(last.Time) {
			last = r
		}
	}
	if last == nil || lastOK != nil && lastOK.Time.After(last.Time) {
		return nil
	}
	return last
}

// outsideWrites are the writes outside an install's folder that refuse the version. Every such
// write lands in the install sandbox's own home or /tmp and is thrown away with it; those in the
// per-user folders tools keep their caches, settings and state in (~/.cache, ~/.config,
// ~/.local: OpenCode's postinstall makes its folders there) and in a temporary folder named after
// the agent's command are only logged.
func outsideWrites(strays []string, bin string) []string {
	var out []string
	for _, p := range strays {
		tolerated := false
		for _, t := range []string{"~/.cache", "~/.config", "~/.local", "~/.node-gyp", "/tmp/" + bin} {
			if p == t || strings.HasPrefix(p, t+"/") {
				tolerated = true
			}
		}
		if !tolerated {
			out = append(out, p)
		}
	}
	return out
}
