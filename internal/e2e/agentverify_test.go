package e2e

// Agent installs checked with the registry (issue 18, "Integrity"), through the user's npm
// proxy: the loopback registry stand-in signs with a key of its own and serves it at
// /-/npm/v1/keys; a version whose signature does not verify, or whose provenance attestation
// is not for its tarball or was tampered with, is refused in one line and the previous version
// stays. The user's npm config names a loopback proxy stand-in: the install sandbox's egress
// reaches the registry through it.

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
)

// upstreamProxy is a loopback HTTP proxy stand-in (CONNECT tunnels and absolute-URL requests)
// that records what it was asked for.
type upstreamProxy struct {
	url  string
	mu   sync.Mutex
	seen []string
}

func startUpstreamProxy(t *testing.T) *upstreamProxy {
	t.Helper()
	p := &upstreamProxy{}
	p.url = serveLoopback(t, p)
	return p
}

func (p *upstreamProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.Host)
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		req, _ := http.NewRequest(r.Method, r.URL.String(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		return
	}
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() {
		io.Copy(up, brw)
		up.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(c, up)
	c.Close()
	up.Close()
}

func (p *upstreamProxy) asked(what string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.seen {
		if s == what {
			return true
		}
	}
	return false
}

func (p *upstreamProxy) reset() {
	p.mu.Lock()
	p.seen = nil
	p.mu.Unlock()
}

// attestations is an attestations document holding bundle as the SLSA provenance.
func attestations(t *testing.T, bundle []byte) json.RawMessage {
	doc, err := json.Marshal(map[string]any{"attestations": []map[string]any{
		{"predicateType": "https://slsa.dev/provenance/v1", "bundle": json.RawMessage(bundle)}}})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestAgentInstallVerified(t *testing.T) {
	// A real provenance bundle (sigstore@1.3.0's): valid, but not for this package's tarball.
	real, err := os.ReadFile("../npmtrust/provenance/testdata/sigstore-1.3.0-provenance.json")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(real, []byte(`"payload":"`)) + len(`"payload":"`) + 40
	tampered := append([]byte(nil), real...)
	tampered[i] ^= 1
	forEachMode(t, func(t *testing.T, e *env) {
		reg := startFakeRegistry(t, "@anthropic-ai/claude-code")
		proxy := startUpstreamProxy(t)
		regHost := strings.TrimSuffix(strings.TrimPrefix(reg.url, "http://"), "/")
		// The user's npm settings: the registry, no retries, and a proxy (the registry is
		// http://, so npm's `proxy`).
		e.extra = append(e.extra, "NPM_CONFIG_REGISTRY="+reg.url, "NPM_CONFIG_FETCH_RETRIES=0", "NPM_CONFIG_PROXY="+proxy.url)
		reg.publish(t, "1.0.0", nil, nil, false)
		reg.badSig["2.0.0"] = true
		reg.publish(t, "2.0.0", nil, nil, false)
		reg.attest["2.0.1"] = attestations(t, real)
		reg.publish(t, "2.0.1", nil, nil, false)
		reg.attest["2.0.2"] = attestations(t, tampered)
		reg.publish(t, "2.0.2", nil, nil, false)
		reg.setLatest("1.0.0")

		ws := e.workspace("verified")
		proxy.reset()
		if r := e.run(ws, "run", "claude", "--", "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.0.0 (Claude Code)" {
			t.Fatalf("first install: %s", r)
		}
		// The install sandbox's egress went through the user's proxy to the registry, and the
		// registry's signature verified with the key it serves.
		if !proxy.asked("CONNECT " + regHost) {
			t.Errorf("the install did not reach the registry through the user's proxy; the proxy saw %q", proxy.seen)
		}
		var views []struct {
			Name      string `json:"name"`
			Installed []struct {
				Version    string `json:"version"`
				Signatures string `json:"signatures"`
				Log        string `json:"install_log"`
				Record     string `json:"install_record"`
			} `json:"installed"`
		}
		if err := json.Unmarshal([]byte(e.ok("", "agents", "--json")), &views); err != nil {
			t.Fatal(err)
		}
		for _, v := range views {
			if v.Name != "claude" {
				continue
			}
			if len(v.Installed) != 1 || v.Installed[0].Signatures != "signed by registry; no provenance offered" {
				t.Fatalf("agents --json: %+v", v.Installed)
			}
			log, _ := os.ReadFile(v.Installed[0].Log)
			if !strings.Contains(string(log), "--- through your npm proxy "+proxy.url) || !strings.Contains(string(log), "--- host 127.0.0.1:") {
				t.Errorf("install log:\n%s", log)
			}
		}
		if out := e.ok("", "agents"); !strings.Contains(out, "signed by registry, no provenance offered") {
			t.Errorf("agents does not show the check:\n%s", out)
		}

		for _, c := range []struct{ version, want string }{
			{"2.0.0", "the registry's signature does not verify"},
			{"2.0.1", "provenance attestation"},
			{"2.0.2", "provenance attestation"},
		} {
			reg.setLatest(c.version)
			r := e.run("", "agents", "update", "claude")
			if r.code == 0 || len(errorLines(r.stderr)) != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "stays at 1.0.0") {
				t.Errorf("update to %s: %s", c.version, r)
			}
			if _, err := os.Stat(e.phome + "/agents/claude/" + c.version); err == nil {
				t.Errorf("%s was kept", c.version)
			}
		}
		if r := e.run(ws, "run", "claude", "--", "--version"); r.code != 0 || strings.TrimSpace(r.stdout) != "1.0.0 (Claude Code)" {
			t.Fatalf("after the refusals: %s", r)
		}
	})
}
