package npmtrust

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func integrityOf(hexDigest string) string {
	b, _ := hex.DecodeString(hexDigest)
	return "sha512-" + base64.StdEncoding.EncodeToString(b)
}

// registry is a stand-in serving one version's manifest, its keys and attestations.
func registry(t *testing.T, keys []Key, m map[string]any, att any) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/-/npm/v1/keys" && keys != nil:
			json.NewEncoder(w).Encode(map[string]any{"keys": keys})
		case strings.HasPrefix(r.URL.Path, "/-/npm/v1/attestations/") && att != nil:
			json.NewEncoder(w).Encode(att)
		case r.URL.Path == "/@scope/pkg/1.0.0" || r.URL.RawPath == "/@scope%2fpkg/1.0.0":
			json.NewEncoder(w).Encode(m)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestVerifySignature(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	key := Key{KeyID: "SHA256:test", KeyType: "ecdsa-sha2-nistp256", Scheme: "ecdsa-sha2-nistp256", Key: base64.StdEncoding.EncodeToString(der)}
	integ := integrityOf(strings.Repeat("cd", 64))
	sign := func(msg string) string {
		h := sha256.Sum256([]byte(msg))
		s, _ := ecdsa.SignASN1(rand.Reader, priv, h[:])
		return base64.StdEncoding.EncodeToString(s)
	}
	p := Package{Name: "@scope/pkg", Version: "1.0.0", Integrity: integ}
	man := func(integrity, sig string) map[string]any {
		dist := map[string]any{"integrity": integrity}
		if sig != "" {
			dist["signatures"] = []map[string]string{{"keyid": key.KeyID, "sig": sig}}
		}
		return map[string]any{"name": p.Name, "version": p.Version, "dist": dist}
	}
	for _, tc := range []struct {
		name   string
		keys   []Key
		m      map[string]any
		signed bool
		bad    bool
	}{
		{"signed", []Key{key}, man(integ, sign("@scope/pkg@1.0.0:"+integ)), true, false},
		{"unsigned, no keys", nil, man(integ, ""), false, false},
		{"signature over another version", []Key{key}, man(integ, sign("@scope/pkg@1.0.1:"+integ)), false, true},
		{"signed, keys not served", nil, man(integ, sign("@scope/pkg@1.0.0:"+integ)), false, true},
		{"another integrity", []Key{key}, man(integrityOf(strings.Repeat("ef", 64)), ""), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := registry(t, tc.keys, tc.m, nil)
			c := &Client{Registry: s.URL + "/"}
			top, _, err := c.VerifyAll(context.Background(), p, nil)
			if tc.bad != errors.Is(err, ErrMismatch) || !tc.bad && err != nil {
				t.Fatalf("err = %v, want refused %v", err, tc.bad)
			}
			if top.Signed != tc.signed {
				t.Fatalf("signed = %v", top.Signed)
			}
		})
	}
}

func TestPinnedKeys(t *testing.T) {
	keys, err := (&Client{Registry: "https://registry.npmjs.org/"}).Keys(context.Background())
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v %v", keys, err)
	}
	for _, k := range keys {
		if err := verifySig(k, []byte("x"), base64.StdEncoding.EncodeToString([]byte{0x30, 0})); err == nil || strings.Contains(err.Error(), "key ") {
			t.Fatalf("key %s does not parse: %v", k.KeyID, err)
		}
	}
}
