package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/npmtrust"
	"github.com/paddockhq/paddock/internal/npmtrust/provenance"
)

func TestLockPackages(t *testing.T) {
	dir := t.TempDir()
	lock := `{"packages": {
		"": {"dependencies": {"@a/agent": "1.0.0"}},
		"node_modules/@a/agent": {"version": "1.0.0", "integrity": "sha512-top"},
		"node_modules/dep": {"version": "2.0.0", "integrity": "sha512-dep"},
		"node_modules/@a/agent/node_modules/dep": {"version": "2.0.0", "integrity": "sha512-dep"},
		"node_modules/alias": {"name": "real", "version": "3.0.0", "integrity": "sha512-real"},
		"node_modules/bundled": {"version": "1.0.0", "inBundle": true},
		"node_modules/linked": {"link": true}
	}}`
	os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(lock), 0o644)
	top, deps, err := lockPackages(dir, "@a/agent")
	if err != nil || top.Name != "@a/agent" || top.Integrity != "sha512-top" {
		t.Fatalf("top %+v %v", top, err)
	}
	if len(deps) != 2 || deps[0].Name != "dep" || deps[1].Name != "real" {
		t.Fatalf("deps %+v", deps)
	}
	if _, _, err := lockPackages(dir, "@a/other"); err == nil {
		t.Fatal("a lockfile without the agent's package was taken")
	}
}

func TestRegistryProxy(t *testing.T) {
	for _, tc := range []struct {
		cfg      map[string]any
		registry string
		want     string
	}{
		{map[string]any{"proxy": "http://p:1", "https-proxy": "http://s:2"}, "https://registry.npmjs.org/", "http://s:2"},
		{map[string]any{"proxy": "http://p:1", "https-proxy": "http://s:2"}, "http://127.0.0.1:9/", "http://p:1"},
		{map[string]any{"proxy": "http://p:1"}, "https://registry.npmjs.org/", "http://p:1"},
		{map[string]any{"proxy": "http://p:1", "noproxy": "npmjs.org,x"}, "https://registry.npmjs.org/", ""},
		{map[string]any{}, "https://registry.npmjs.org/", ""},
	} {
		if got := registryProxy(tc.cfg, tc.registry); got != tc.want {
			t.Errorf("registryProxy(%v, %s) = %q, want %q", tc.cfg, tc.registry, got, tc.want)
		}
	}
	if got := redactProxy("http://user:secret@p:1"); got != "http://p:1" {
		t.Errorf("redactProxy = %q", got)
	}
}

// verifyInstall end to end against a registry stand-in serving sigstore@1.3.0 as npm publishes
// it (its real provenance bundle, no registry signature): the provenance names its source
// repository; the same bundle offered for a tarball of other bytes refuses the version.
func TestVerifyInstallProvenance(t *testing.T) {
	bundle, err := os.ReadFile("../npmtrust/provenance/testdata/sigstore-1.3.0-provenance.json")
	if err != nil {
		t.Fatal(err)
	}
	npmtrust.VerifyBundle = provenance.Verify
	defer func() { npmtrust.VerifyBundle = nil }()
	digest, _ := hex.DecodeString("76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751")
	real := "sha512-" + base64.StdEncoding.EncodeToString(digest)
	other := "sha512-" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64))
	for _, tc := range []struct {
		name, integrity, want string
		refused               bool
	}{
		{"its tarball", real, "no registry signature offered; provenance: github.com/sigstore/sigstore-js@refs/", false},
		{"another tarball", other, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/sigstore/1.3.0":
					json.NewEncoder(w).Encode(map[string]any{"name": "sigstore", "version": "1.3.0", "dist": map[string]any{
						"integrity": tc.integrity, "attestations": map[string]any{"url": srv.URL + "/-/npm/v1/attestations/sigstore@1.3.0",
							"provenance": map[string]string{"predicateType": "https://slsa.dev/provenance/v0.2"}}}})
				case "/-/npm/v1/attestations/sigstore@1.3.0":
					json.NewEncoder(w).Encode(map[string]any{"attestations": []map[string]any{
						{"predicateType": "https://slsa.dev/provenance/v0.2", "bundle": json.RawMessage(bundle)}}})
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(`{"packages": {"node_modules/sigstore": {"version": "1.3.0", "integrity": "`+tc.integrity+`"}}}`), 0o644)
			check, err := verifyInstall(context.Background(), npmSettings{Registry: srv.URL + "/"}, "sigstore", dir)
			if tc.refused {
				if !errors.Is(err, npmtrust.ErrMismatch) {
					t.Fatalf("err = %v, want refused", err)
				}
				return
			}
			if err != nil || !strings.HasPrefix(check.Summary, tc.want) || !strings.HasPrefix(check.Provenance, "github.com/sigstore/sigstore-js@refs/") {
				t.Fatalf("check %+v, %v", check, err)
			}
		})
	}
}
