package provenance

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/npmtrust"
)

// sigstore@1.3.0's provenance bundle (testdata, from sigstore-go's examples) and its tarball's
// sha512, as the statement names it.
const sigstoreDigest = "76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"

func integrityOf(hexDigest string) string {
	b, _ := hex.DecodeString(hexDigest)
	return "sha512-" + base64.StdEncoding.EncodeToString(b)
}

func TestVerify(t *testing.T) {
	raw, err := os.ReadFile("testdata/sigstore-1.3.0-provenance.json")
	if err != nil {
		t.Fatal(err)
	}
	good := npmtrust.Package{Name: "sigstore", Version: "1.3.0", Integrity: integrityOf(sigstoreDigest)}
	src, err := Verify(raw, good)
	if err != nil {
		t.Fatalf("real bundle: %v", err)
	}
	if !strings.HasPrefix(src, "github.com/sigstore/sigstore-js@refs/") {
		t.Fatalf("source %q", src)
	}
	other := strings.Repeat("ab", 64)
	// The signed statement with one character of its payload changed.
	i := bytes.Index(raw, []byte(`"payload":"`)) + len(`"payload":"`) + 40
	tampered := append([]byte(nil), raw...)
	tampered[i] ^= 1
	for _, tc := range []struct {
		name string
		raw  []byte
		p    npmtrust.Package
	}{
		{"another tarball", raw, npmtrust.Package{Name: "sigstore", Version: "1.3.0", Integrity: integrityOf(other)}},
		{"another version", raw, npmtrust.Package{Name: "sigstore", Version: "1.3.1", Integrity: good.Integrity}},
		{"another package", raw, npmtrust.Package{Name: "sigstorf", Version: "1.3.0", Integrity: good.Integrity}},
		{"tampered signature", tampered, good},
		{"not a bundle", []byte(`{"mediaType":"x"}`), good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(tc.raw, tc.p); !errors.Is(err, npmtrust.ErrMismatch) {
				t.Fatalf("err = %v, want npmtrust.ErrMismatch", err)
			}
		})
	}
}
