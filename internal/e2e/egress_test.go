package e2e

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/image/imagetest"
)

// egressWorld is the outside world of the egress tests, all on 127.0.0.1: one HTTPS server that
// answers for several names (certificates from the paddock installation's own CA, which the
// sandbox's bundle trusts), a plain HTTP server and a TCP echo server, reached by name through
// the proxy's test hosts map.
type egressWorld struct {
	tlsPort, httpPort, echoPort int
	mu                          sync.Mutex
	apiKeys                     []string // x-api-key headers the API stand-in received
	gitAuth                     []string // Authorization headers the git server received
}

const npmPkg = "paddock-e2e-pkg"

func startEgressWorld(t *testing.T, e *env) *egressWorld {
	t.Helper()
	w := &egressWorld{}
	e.mkdir(e.phome)
	ca, err := egress.LoadOrCreateCA(e.phome)
	if err != nil {
		t.Fatal(err)
	}
	filepath.Walk(filepath.Join(e.phome, "egress"), func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, e.uid, e.gid) })

	// A bare git repository with one commit, served by git http-backend as CGI.
	repos := filepath.Join(e.dir, "git")
	src := filepath.Join(e.dir, "gitsrc")
	for _, c := range [][]string{
		{"git", "init", "-q", "--bare", filepath.Join(repos, "org", "repo.git")},
		{"git", "init", "-q", src},
		{"sh", "-c", "cd " + src + " && echo egress > README && git add README && git -c user.name=t -c user.email=t@t commit -qm one && git push -q " + filepath.Join(repos, "org", "repo.git") + " HEAD:refs/heads/main"},
		{"git", "--git-dir", filepath.Join(repos, "org", "repo.git"), "symbolic-ref", "HEAD", "refs/heads/main"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", c, err, out)
		}
	}
	git := &cgi.Handler{Path: "/usr/lib/git-core/git-http-backend", Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1"}}

	// An npm registry stand-in: a packument and its tarball.
	tgz := npmTarball(t)
	sha1sum := sha1.Sum(tgz)
	sha512sum := sha512.Sum512(tgz)
	packument, _ := json.Marshal(map[string]any{
		"name": npmPkg, "dist-tags": map[string]string{"latest": "1.0.0"},
		"versions": map[string]any{"1.0.0": map[string]any{"name": npmPkg, "version": "1.0.0", "dist": map[string]string{
			"tarball":   "https://registry.npmjs.org/" + npmPkg + "/-/" + npmPkg + "-1.0.0.tgz",
			"shasum":    hex.EncodeToString(sha1sum[:]),
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sha512sum[:]),
		}}},
	})

	// A PyPI stand-in: the simple index at pypi.org, the wheel at files.pythonhosted.org.
	whl := pyWheel(t)
	whlSum := sha256.Sum256(whl)
	whlName := "paddock_e2e_py-1.0.0-py3-none-any.whl"

	mux := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		if host == "" {
			host = r.Host
		}
		switch host {
		case "api.anthropic.com":
			w.mu.Lock()
			w.apiKeys = append(w.apiKeys, r.Header.Get("x-api-key"))
			w.mu.Unlock()
			fmt.Fprintf(rw, `{"type":"message","content":[{"type":"text","text":"hello from the stand-in"}]}`)
		case "registry.npmjs.org":
			switch r.URL.Path {
			case "/" + npmPkg:
				rw.Header().Set("Content-Type", "application/json")
				rw.Write(packument)
			case "/" + npmPkg + "/-/" + npmPkg + "-1.0.0.tgz":
				rw.Write(tgz)
			default:
				http.NotFound(rw, r)
			}
		case "pypi.org":
			if r.URL.Path != "/simple/paddock-e2e-py/" {
				http.NotFound(rw, r)
				return
			}
			fmt.Fprintf(rw, `<!DOCTYPE html><html><body><a href="https://files.pythonhosted.org/packages/%s#sha256=%s">%s</a></body></html>`,
				whlName, hex.EncodeToString(whlSum[:]), whlName)
		case "files.pythonhosted.org":
			if r.URL.Path != "/packages/"+whlName {
				http.NotFound(rw, r)
				return
			}
			rw.Write(whl)
		case "github.com":
			if a := r.Header.Get("Authorization"); a != "" {
				w.mu.Lock()
				w.gitAuth = append(w.gitAuth, a)
				w.mu.Unlock()
			} else if r.URL.Query().Get("service") != "" || strings.HasSuffix(r.URL.Path, "git-upload-pack") {
				// Ask for credentials once, as GitHub does for a private repository.
				if strings.Contains(r.URL.Path, "private") {
					rw.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
					http.Error(rw, "auth", http.StatusUnauthorized)
					return
				}
			}
			r.URL.Path = strings.Replace(r.URL.Path, "/private/", "/org/", 1)
			git.ServeHTTP(rw, r)
		default:
			fmt.Fprintf(rw, "hello from %s%s", host, r.URL.Path)
		}
	})
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := &http.Server{Handler: mux, TLSConfig: &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return ca.Leaf(h.ServerName)
	}}, ErrorLog: nil}
	go tlsSrv.ServeTLS(tln, "", "")
	hln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpSrv := &http.Server{Handler: mux}
	go httpSrv.Serve(hln)
	eln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := eln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { tlsSrv.Close(); httpSrv.Close(); eln.Close() })
	w.tlsPort, w.httpPort, w.echoPort = tln.Addr().(*net.TCPAddr).Port, hln.Addr().(*net.TCPAddr).Port, eln.Addr().(*net.TCPAddr).Port

	var hosts strings.Builder
	for _, n := range []string{"allowed.test", "denied.test", "api.anthropic.com", "registry.npmjs.org", "github.com", "pypi.org", "files.pythonhosted.org"} {
		fmt.Fprintf(&hosts, "%s:443 127.0.0.1:%d\n", n, w.tlsPort)
	}
	fmt.Fprintf(&hosts, "plain.test:80 127.0.0.1:%d\n", w.httpPort)
	fmt.Fprintf(&hosts, "echo.test:22 127.0.0.1:%d\n", w.echoPort)
	hf := filepath.Join(e.dir, "egress-hosts")
	e.writeFile(hf, hosts.String())
	e.extra = append(e.extra, egress.HostsEnv+"="+hf, egress.CAFileEnv+"="+egress.CACertPath(e.phome))
	return w
}

// pyWheel is a minimal pure-Python wheel of paddock-e2e-py 1.0.0.
func pyWheel(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := [][2]string{
		{"paddock_e2e_py/__init__.py", "VALUE = 'installed by pip through the egress proxy'\n"},
		{"paddock_e2e_py-1.0.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: paddock-e2e-py\nVersion: 1.0.0\n"},
		{"paddock_e2e_py-1.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: paddock-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f[0])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f[1])
		sum := sha256.Sum256([]byte(f[1]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f[0], base64.RawURLEncoding.EncodeToString(sum[:]), len(f[1]))
	}
	record.WriteString("paddock_e2e_py-1.0.0.dist-info/RECORD,,\n")
	w, _ := zw.Create("paddock_e2e_py-1.0.0.dist-info/RECORD")
	io.WriteString(w, record.String())
	zw.Close()
	return buf.Bytes()
}

func npmTarball(t *testing.T) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"package/package.json": `{"name":"` + npmPkg + `","version":"1.0.0","main":"index.js"}`,
		"package/index.js":     `module.exports = "installed through the egress proxy";`,
	} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// sh runs a shell script in the sandbox and returns the result.
func (e *env) sh(name, script string) result {
	e.t.Helper()
	return e.run("", "exec", name, "sh", "-c", script)
}

func TestEgress(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		w := startEgressWorld(t, e)
		ws := e.workspace("egress")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
		if name != "shell-egress" {
			t.Fatalf("name %q", name)
		}
		var insp []map[string]any
		json.Unmarshal([]byte(e.ok("", "inspect", name)), &insp)
		if nw, _ := insp[0]["network"].(map[string]any); nw == nil || nw["preset"] != "balanced" || nw["proxy"] != "127.0.0.1:3128" {
			t.Fatalf("inspect network: %v", insp[0]["network"])
		}

		// The balanced preset: the agents' APIs, registries and git hosts; nothing else.
		if r := e.sh(name, "curl -sS -m 10 https://api.anthropic.com/v1/models"); r.code != 0 || !strings.Contains(r.stdout, "hello from the stand-in") {
			t.Fatalf("api.anthropic.com: %s", r)
		}
		if r := e.sh(name, "curl -sS -m 10 https://allowed.test/x"); r.code == 0 || !strings.Contains(r.stderr, "403") {
			t.Fatalf("allowed.test before a rule: %s", r)
		}
		// A rule applies to the running sandbox at once; a deny wins; rm takes it back.
		e.ok("", "policy", "allow", "allowed.test:443", "--sandbox", name)
		if r := e.sh(name, "curl -sS -m 10 https://allowed.test/x"); r.code != 0 || r.stdout != "hello from allowed.test/x" {
			t.Fatalf("allowed.test after allow: %s", r)
		}
		e.ok("", "policy", "deny", "*.test")
		if r := e.sh(name, "curl -sS -m 10 https://allowed.test/x"); r.code == 0 {
			t.Fatalf("allowed.test after a global deny: %s", r)
		}
		e.ok("", "policy", "rm", "*.test")
		if r := e.sh(name, "curl -sS -m 10 https://allowed.test/x"); r.code != 0 {
			t.Fatalf("allowed.test after rm of the deny: %s", r)
		}
		ls := e.ok("", "policy", "ls", "--sandbox", name, "--json")
		if !strings.Contains(ls, `"rule": "allowed.test:443",`) || !strings.Contains(ls, `"source": "preset:balanced"`) {
			t.Fatalf("policy ls: %s", ls)
		}
		if out := e.ok("", "policy", "check", name, "https://allowed.test/x"); !strings.Contains(out, "allow allowed.test:443 by rule allowed.test:443 (sandbox)") {
			t.Fatalf("policy check: %s", out)
		}
		if r := e.run("", "policy", "check", name, "https://denied.test/"); r.code != 1 || !strings.Contains(r.stdout, "deny denied.test:443: no rule allows") {
			t.Fatalf("policy check denied: %s", r)
		}

		// Plain HTTP through the proxy, allowed and logged.
		e.ok("", "policy", "allow", "plain.test:80", "--sandbox", name)
		if r := e.sh(name, "curl -sS -m 10 http://plain.test/p"); r.code != 0 || r.stdout != "hello from plain.test/p" {
			t.Fatalf("plain.test: %s", r)
		}

		// A denial is reported on the terminal of `paddock run`, once per host, with the command.
		r := e.run(ws, "run", "shell", "-c", "curl -sS -m 10 https://denied.test/; curl -sS -m 10 https://denied.test/; true")
		if strings.Count(r.stderr, "paddock: blocked denied.test:443") != 1 || !strings.Contains(r.stderr, "paddock policy allow denied.test --sandbox "+name) {
			t.Fatalf("run's denial notice: %s", r)
		}

		// git over https (git http-backend), npm install against the registry stand-in.
		if r := e.sh(name, "cd /tmp && rm -rf repo && git clone -q https://github.com/org/repo.git && cat repo/README"); r.code != 0 || r.stdout != "egress\n" {
			t.Fatalf("git clone: %s", r)
		}
		if r := e.sh(name, "cd "+ws+" && NPM_CONFIG_UPDATE_NOTIFIER=false npm install --no-audit --no-fund "+npmPkg+" >/dev/null && node -p 'require(\""+npmPkg+"\")'"); r.code != 0 || r.stdout != "installed through the egress proxy\n" {
			t.Fatalf("npm install: %s", r)
		}

		// pip install --user against the PyPI stand-in (pypi.org and files.pythonhosted.org).
		if r := e.sh(name, "python3 -m pip install -q --user --no-cache-dir --disable-pip-version-check paddock-e2e-py && python3 -c 'import paddock_e2e_py; print(paddock_e2e_py.VALUE)'"); r.code != 0 || r.stdout != "installed by pip through the egress proxy\n" {
			t.Fatalf("pip install: %s", r)
		}

		// git over ssh goes through the SOCKS5 side with paddock's helper (ssh's ProxyCommand).
		if r := e.sh(name, "echo SSH-2.0-x | /run/paddock/paddock __egress-connect echo.test 22"); r.code == 0 {
			t.Fatalf("echo.test:22 without a rule: %s", r)
		}
		e.ok("", "policy", "allow", "echo.test:22", "--sandbox", name)
		if r := e.sh(name, "echo SSH-2.0-x | /run/paddock/paddock __egress-connect echo.test 22"); r.code != 0 || r.stdout != "SSH-2.0-x\n" {
			t.Fatalf("echo.test:22 through SOCKS5: %s", r)
		}
		if r := e.sh(name, "echo $GIT_SSH_COMMAND"); !strings.Contains(r.stdout, "ProxyCommand='/run/paddock/paddock __egress-connect %h %p'") {
			t.Fatalf("GIT_SSH_COMMAND: %s", r)
		}

		// Escape attempts: each fails, and those that reach the proxy are logged.
		hostIP := ""
		if addrs, _ := net.InterfaceAddrs(); len(addrs) > 0 {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
					hostIP = n.IP.String()
				}
			}
		}
		hp := strconv.Itoa(w.httpPort)
		e.ok("", "policy", "allow", "localhost", "--sandbox", name)
		escapes := []struct{ what, script, want string }{
			{"direct connection to a public address", "curl -sS -m 5 --noproxy '*' http://93.184.215.14/", ""},
			{"a public address through the proxy", "curl -fsS -m 5 http://93.184.215.14/", "403"},
			{"direct IPv6", "curl -sS -m 5 --noproxy '*' -g 'http://[2606:4700::1111]/'", ""},
			{"the host's loopback service, directly", "curl -sS -m 5 --noproxy '*' http://127.0.0.1:" + hp + "/", "onnect"},
			{"the host's loopback service, through the proxy", "curl -fsS -m 5 --noproxy '' -x http://127.0.0.1:3128 http://127.0.0.1:" + hp + "/", "403"},
			{"a name that resolves to 127.0.0.1", "curl -fsS -m 5 --noproxy '' -x http://127.0.0.1:3128 http://localhost:" + hp + "/", "403"},
			{"IPv6 loopback through the proxy", "curl -fsS -m 5 --noproxy '' -x http://127.0.0.1:3128 -g 'http://[::1]:" + hp + "/'", "403"},
			{"CONNECT to a port outside the rule", "curl -sS -m 5 https://allowed.test:8443/", "403"},
			{"unset proxy variables", "env -u HTTPS_PROXY -u https_proxy -u ALL_PROXY -u all_proxy curl -sS -m 5 https://allowed.test/", "resolve"},
			{"UDP DNS to an outside resolver", "python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b\"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x07example\\x03com\\x00\\x00\\x01\\x00\\x01\", (\"8.8.8.8\", 53)); print(s.recv(512))'", "nreachable"},
			{"raw TCP to a public address", "python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 443), 5)'", "nreachable"},
			{"SOCKS5 UDP ASSOCIATE", "python3 -c 'import socket; s=socket.create_connection((\"127.0.0.1\", 3128)); s.sendall(bytes([5,1,0])); s.recv(2); s.sendall(bytes([5,3,0,1,8,8,8,8,0,53])); r=s.recv(10); exit(0 if r[1]==0 else 1)'", ""},
		}
		// The host's own name, allowed by a rule, resolves (on the host) to one of its own addresses.
		hostName, _ := os.Hostname()
		if hostName != "" {
			e.ok("", "policy", "allow", hostName, "--sandbox", name)
			escapes = append(escapes, struct{ what, script, want string }{"the host's own name, through the proxy",
				"curl -fsS -m 5 --noproxy '' -x http://127.0.0.1:3128 http://" + hostName + ":" + hp + "/", "403"})
		}
		if hostIP != "" {
			escapes = append(escapes, struct{ what, script, want string }{"the host's own address, through the proxy",
				"curl -fsS -m 5 --noproxy '' -x http://127.0.0.1:3128 http://" + hostIP + ":" + hp + "/", "403"})
		}
		for _, x := range escapes {
			r := e.sh(name, x.script)
			if r.code == 0 || !strings.Contains(r.stdout+r.stderr, x.want) {
				t.Errorf("escape %q was not blocked as expected (want %q): %s", x.what, x.want, r)
			}
		}
		// ICMP: no route, whether or not ping exists.
		if r := e.sh(name, "python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); s.sendto(b\"\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00\", (\"8.8.8.8\", 0))'"); r.code == 0 {
			t.Errorf("ICMP echo was sent: %s", r)
		}

		// The audit log has every decision that reached the proxy.
		var recs []egress.Record
		sc := bufio.NewScanner(strings.NewReader(e.ok("", "policy", "log", name, "--json")))
		for sc.Scan() {
			var rec egress.Record
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("policy log line %q: %v", sc.Text(), err)
			}
			recs = append(recs, rec)
		}
		find := func(host string, port int, decision, reason string) {
			t.Helper()
			for _, r := range recs {
				if r.Host == host && r.Port == port && r.Decision == decision && strings.Contains(r.Reason, reason) {
					return
				}
			}
			t.Errorf("no %s record for %s:%d (%q) in the audit log", decision, host, port, reason)
		}
		find("api.anthropic.com", 443, "allow", "")
		find("allowed.test", 443, "deny", "no rule allows")
		find("allowed.test", 443, "deny", "denied by rule *.test")
		find("denied.test", 443, "deny", "no rule allows")
		find("github.com", 443, "allow", "")
		find("registry.npmjs.org", 443, "allow", "")
		find("pypi.org", 443, "allow", "")
		find("files.pythonhosted.org", 443, "allow", "")
		find("echo.test", 22, "allow", "")
		find("127.0.0.1", w.httpPort, "deny", "no rule allows")
		find("localhost", w.httpPort, "deny", "loopback")
		find("::1", w.httpPort, "deny", "no rule allows")
		find("allowed.test", 8443, "deny", "no rule allows allowed.test:8443")
		find("8.8.8.8", 53, "deny", "UDP ASSOCIATE")
		if hostIP != "" {
			find(hostIP, w.httpPort, "deny", "no rule allows")
		}
		if hostName != "" {
			find(strings.ToLower(hostName), w.httpPort, "deny", "")
		}
		for _, r := range recs {
			if r.Host == "plain.test" && r.Decision == "allow" && r.BytesIn == 0 {
				t.Errorf("plain.test record without bytes: %+v", r)
			}
		}
		if out := e.ok("", "policy", "log", name); !strings.Contains(out, "TIME") || !strings.Contains(out, "denied.test") {
			t.Fatalf("policy log: %s", out)
		}

		// Changing the preset of an existing sandbox is drift, like -e.
		if r := e.run(ws, "run", "--network", "open", "shell", "-c", "true"); r.code == 0 || !strings.Contains(r.stderr, "network: balanced -> open") {
			t.Fatalf("--network drift: %s", r)
		}
		// Never fail open: when the proxy cannot start (a damaged CA here), the sandbox does not.
		e.ok("", "stop", name)
		caPEM := egress.CACertPath(e.phome)
		good, _ := os.ReadFile(caPEM)
		e.writeFile(caPEM, "not a certificate\n")
		if r := e.run("", "start", name); r.code == 0 || !strings.Contains(r.stderr, "egress CA") || !strings.Contains(r.stderr, "damaged") {
			t.Fatalf("start with a damaged CA: %s", r)
		}
		if r := e.run("", "exec", name, "true"); r.code == 0 {
			t.Fatalf("the sandbox runs without its proxy: %s", r)
		}
		e.writeFile(caPEM, string(good))
		e.ok("", "start", name)
		if r := e.sh(name, "curl -sS -m 10 https://allowed.test/x"); r.code != 0 {
			t.Fatalf("after the CA was restored: %s", r)
		}
		e.ok("", "stop", name)
	})
}

// TestEgressCredentials: with a stored key, a request from inside to the (stand-in) API host
// arrives with the key, while the sandbox's environment, files and every process's environment
// and memory hold only the placeholder.
func TestEgressCredentials(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		w := startEgressWorld(t, e)
		key := "sk-ant-e2e-REAL-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if r := e.runInput("", key+"\n", "secret", "set", "anthropic"); r.code != 0 {
			t.Fatalf("secret set: %s", r)
		}
		ws := e.workspace("creds")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
		// A process that stays, holding the placeholder in its environment as an agent would.
		e.sh(name, "ANTHROPIC_API_KEY="+egress.Placeholder("anthropic")+" nohup sleep 300 >/dev/null 2>&1 &")
		r := e.sh(name, `curl -sS -m 10 https://api.anthropic.com/v1/messages -H "x-api-key: `+egress.Placeholder("anthropic")+`" -d '{}' > /tmp/reply; cat /tmp/reply`)
		if r.code != 0 || !strings.Contains(r.stdout, "hello from the stand-in") {
			t.Fatalf("request to the API: %s", r)
		}
		w.mu.Lock()
		got := append([]string{}, w.apiKeys...)
		w.mu.Unlock()
		if len(got) != 1 || got[0] != key {
			t.Fatalf("the API stand-in received x-api-key %q, want the stored key", got)
		}
		// The connection was intercepted with paddock's CA (the sandbox trusts it through its bundle).
		if r := e.sh(name, "curl -sS -m 10 -o /dev/null -w '%{certs}' --write-out '' https://api.anthropic.com/ -v 2>&1 | grep -i 'issuer'"); !strings.Contains(r.stdout, "paddock egress CA") {
			t.Fatalf("issuer of the intercepted connection: %s", r)
		}
		if r := e.sh(name, "env"); strings.Contains(r.stdout, key) || !strings.Contains(r.stdout, "SSL_CERT_FILE="+egress.CABundlePath) {
			t.Fatalf("exec env: %s", r)
		}
		// Every process's environment, command line and memory, read from the host.
		var insp []struct {
			State struct {
				Pids          []int `json:"pids"`
				SupervisorPID int   `json:"supervisor_pid"`
			} `json:"state"`
		}
		json.Unmarshal([]byte(e.ok("", "inspect", name)), &insp)
		if len(insp) != 1 || len(insp[0].State.Pids) < 3 {
			t.Fatalf("inspect pids: %+v", insp)
		}
		// The supervisor is the host side: it reads the key from the secret store for each request.
		keyScan(t, insp[0].State.Pids, insp[0].State.SupervisorPID, key, "sandbox")
		// git over https with a token: the github key goes into git's Basic credentials.
		gh := "ghp_e2eREAL" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if r := e.runInput("", gh+"\n", "secret", "set", "github"); r.code != 0 {
			t.Fatalf("secret set github: %s", r)
		}
		if r := e.sh(name, "cd /tmp && rm -rf repo && git clone -q https://x-access-token:"+egress.Placeholder("github")+"@github.com/private/repo.git repo && cat repo/README"); r.code != 0 || r.stdout != "egress\n" {
			t.Fatalf("git clone with the placeholder token: %s", r)
		}
		w.mu.Lock()
		auth := append([]string{}, w.gitAuth...)
		w.mu.Unlock()
		wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+gh))
		if len(auth) == 0 || auth[0] != wantAuth {
			t.Fatalf("the git server received Authorization %q, want the stored token", auth)
		}
		// Files: the workspace, and the sandbox's state (its home, /tmp, /var), from the host.
		for _, dir := range []string{ws, filepath.Join(e.phome, "sandboxes")} {
			for _, k := range []string{key, gh} {
				if out, _ := exec.Command("grep", "-rlF", "--", k, dir).Output(); len(out) > 0 {
					t.Fatalf("a key is written in %s", out)
				}
			}
		}
		// And from inside, everything the sandbox can write.
		if r := e.sh(name, "grep -rlsE 'sk-ant-e2e-REAL|ghp_e2eREAL' /root /tmp /var /run "+ws+"; true"); strings.TrimSpace(r.stdout) != "" {
			t.Fatalf("files inside hold the key: %s", r)
		}
		e.ok("", "stop", name)
	})
}

// procMemContains searches a process's readable memory for b (as root, through /proc/PID/mem).
func procMemContains(pid int, b []byte) bool {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return false
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return false
	}
	defer mem.Close()
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[1], "r") || (len(f) >= 6 && (f[5] == "[vvar]" || f[5] == "[vsyscall]")) {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		if end <= start || end-start > 1<<30 {
			continue
		}
		buf := make([]byte, end-start)
		n, _ := mem.ReadAt(buf, int64(start))
		if bytes.Contains(buf[:n], b) {
			return true
		}
	}
	return false
}

// TestEgressOCITemplate: a sandbox made from an OCI image (busybox, running as its USER) gets the
// same proxy, variables and CA bundle.
func TestEgressOCITemplate(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/egress:1", busyboxImage(t))
	forEachMode(t, func(t *testing.T, e *env) {
		startEgressWorld(t, e)
		ws := e.workspace("ociegress")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "-t", ref, "shell"))
		e.ok("", "policy", "allow", "plain.test", "--sandbox", name)
		if r := e.sh(name, "id -un; /bin/busybox wget -qO- http://plain.test/oci"); r.code != 0 || r.stdout != "agent\nhello from plain.test/oci" {
			t.Fatalf("wget through the proxy from an OCI sandbox: %s", r)
		}
		if r := e.sh(name, "/bin/busybox wget -qO- http://denied.test/ 2>&1; echo rc=$?"); !strings.Contains(r.stdout, "403") {
			t.Fatalf("denied from an OCI sandbox: %s", r)
		}
		ca, _ := os.ReadFile(egress.CACertPath(e.phome))
		if r := e.sh(name, "echo $SSL_CERT_FILE $NODE_EXTRA_CA_CERTS; cat $SSL_CERT_FILE"); !strings.HasPrefix(r.stdout, egress.CABundlePath+" "+egress.CABundlePath+"\n") ||
			!strings.Contains(r.stdout, strings.TrimSpace(string(ca))) {
			t.Fatalf("CA bundle in an OCI sandbox: %s", r)
		}
		e.ok("", "stop", name)
	})
}

// TestEgressBadInput: each mistake is one line on stderr, exit 2, nothing changed.
func TestEgressBadInput(t *testing.T) {
	requireRoot(t)
	e := newEnv(t, asRoot)
	ws := e.workspace("badnet")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--network", "wide", "shell", "-c", "true"}, `--network "wide": choose locked, balanced (the default) or open`},
		{[]string{"policy", "allow"}, "give at least one rule"},
		{[]string{"policy", "allow", "https://example.com/x"}, `bad rule "https://example.com/x": not a URL`},
		{[]string{"policy", "allow", "example.com:99999"}, "port"},
		{[]string{"policy", "deny", "ex*ample.com"}, "wildcard"},
		{[]string{"policy", "allow", "example.com", "--sandbox", "nosuch"}, "--sandbox"},
		{[]string{"policy", "rm", "never-added.example"}, "never-added.example is not in the global rules"},
		{[]string{"policy", "rm", "github.com:443"}, "comes from the balanced preset; to refuse it: paddock policy deny github.com:443"},
		{[]string{"policy", "check", "nosuch", "https://example.com"}, "nosuch"},
		{[]string{"policy", "log", "nosuch"}, "nosuch"},
	} {
		r := e.run(ws, c.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 2 || len(lines) != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("paddock %s: want exit 2 and one line with %q, got %s", strings.Join(c.args, " "), c.want, r)
		}
	}
	if _, err := os.Stat(egress.GlobalPolicyPath(e.phome)); err == nil {
		t.Error("bad input wrote a policy file")
	}
	if len(e.sandboxDirs()) != 0 {
		t.Error("bad input made a sandbox")
	}
	name := strings.TrimSpace(e.ok(ws, "create", "shell"))
	if r := e.run("", "policy", "check", name, "ftp://example.com/"); r.code != 2 || !strings.Contains(r.stderr, "unknown scheme ftp") {
		t.Errorf("policy check ftp: %s", r)
	}
}

// sshGitServer is a git server over ssh on 127.0.0.1 (golang.org/x/crypto/ssh): any client key is
// accepted, and `git-upload-pack 'PATH'` runs against the repositories under root.
func sshGitServer(t *testing.T, root string) (addr string, hostKey ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					c.Close()
					return
				}
				go ssh.DiscardRequests(reqs)
				for nc := range chans {
					if nc.ChannelType() != "session" {
						nc.Reject(ssh.UnknownChannelType, "session only")
						continue
					}
					ch, creqs, err := nc.Accept()
					if err != nil {
						continue
					}
					go func() {
						defer ch.Close()
						for req := range creqs {
							if req.Type != "exec" || len(req.Payload) < 4 {
								req.Reply(false, nil)
								continue
							}
							cmdline := string(req.Payload[4:])
							path := strings.Trim(strings.TrimPrefix(cmdline, "git-upload-pack "), "'")
							if !strings.HasPrefix(cmdline, "git-upload-pack ") || strings.Contains(path, "..") {
								req.Reply(false, nil)
								return
							}
							req.Reply(true, nil)
							cmd := exec.Command("git-upload-pack", filepath.Join(root, strings.TrimPrefix(path, "/")))
							cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
							status := uint32(0)
							if err := cmd.Run(); err != nil {
								status = 1
							}
							ch.CloseWrite()
							ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
							return
						}
					}()
				}
			}()
		}
	}()
	return ln.Addr().String(), signer.PublicKey()
}

// TestEgressGitOverSSH: git clone git@github.com:org/repo.git from inside a sandbox goes through
// the proxy's SOCKS5 side with paddock's helper as ssh's ProxyCommand (github.com:22 is in the
// balanced preset), against a real ssh server on loopback.
func TestEgressGitOverSSH(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		startEgressWorld(t, e)
		addr, hostKey := sshGitServer(t, filepath.Join(e.dir, "git"))
		hf := filepath.Join(e.dir, "egress-hosts")
		b, _ := os.ReadFile(hf)
		e.writeFile(hf, string(b)+"github.com:22 "+addr+"\n")
		ws := e.workspace("sshgit")
		name := strings.TrimSpace(e.ok(ws, "run", "-d", "shell"))
		known := "github.com " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey)))
		setup := "mkdir -p ~/.ssh && chmod 700 ~/.ssh && ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519 && echo '" + known + "' > ~/.ssh/known_hosts"
		if r := e.sh(name, setup); r.code != 0 {
			t.Fatalf("ssh setup: %s", r)
		}
		if r := e.sh(name, "cd /tmp && git clone -q git@github.com:org/repo.git sshrepo && cat sshrepo/README"); r.code != 0 || r.stdout != "egress\n" {
			t.Fatalf("git clone over ssh: %s", r)
		}
		if out := e.ok("", "policy", "log", name, "--json"); !strings.Contains(out, `"proto":"socks5","host":"github.com","port":22,"addr":"`+addr+`","decision":"allow","rule":"github.com:22","source":"preset:balanced"`) {
			t.Fatalf("audit log of the ssh clone: %s", out)
		}
		// Without the rule (a deny), the same clone fails, and says where to look.
		e.ok("", "policy", "deny", "github.com:22", "--sandbox", name)
		if r := e.sh(name, "cd /tmp && git clone -q git@github.com:org/repo.git sshrepo2"); r.code == 0 || !strings.Contains(r.stderr, "paddock policy log") {
			t.Fatalf("git clone over ssh with a deny: %s", r)
		}
		e.ok("", "stop", name)
	})
}

// keyScan fails the test when key is in the environment, command line or memory of any of pids
// (but skip), or when none of them holds the anthropic placeholder (the scan would prove
// nothing). what names the processes in messages: "sandbox" or "container".
func keyScan(t *testing.T, pids []int, skip int, key, what string) {
	t.Helper()
	sawPlaceholder := false
	for _, pid := range pids {
		if pid == skip {
			continue
		}
		for _, f := range []string{"environ", "cmdline"} {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
			if bytes.Contains(b, []byte(key)) {
				t.Fatalf("the key is in /proc/%d/%s", pid, f)
			}
			sawPlaceholder = sawPlaceholder || bytes.Contains(b, []byte(egress.Placeholder("anthropic")))
		}
		if procMemContains(pid, []byte(key)) {
			t.Fatalf("the key is in the memory of %s process %d", what, pid)
		}
	}
	if !sawPlaceholder {
		t.Fatalf("no process of the %s holds the placeholder (the scan would prove nothing)", what)
	}
}
