package egress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/paddockhq/paddock/internal/fsutil"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// CADir is the folder of the per-installation CA (mode 0700): ca.pem and ca-key.pem (0600).
func CADir(home string) string { return filepath.Join(home, "egress", "ca") }

// CACertPath is the CA certificate sandboxes trust.
func CACertPath(home string) string { return filepath.Join(CADir(home), "ca.pem") }

// CA signs the certificates the proxy shows for intercepted hosts.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  []byte

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// LoadOrCreateCA returns the installation's CA, generating it on first use. Concurrent callers
// get the same one: it is made in a temporary folder renamed into place.
func LoadOrCreateCA(home string) (*CA, error) {
	dir := CADir(home)
	if ca, err := loadCA(dir); err == nil {
		return ca, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".ca-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	host, _ := os.Hostname()
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "paddock egress CA (" + host + ")", Organization: []string{"paddock"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "ca-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !isNotEmpty(err) {
		return nil, err
	}
	return loadCA(dir)
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

func loadCA(dir string) (*CA, error) {
	cb, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, fmt.Errorf("the egress CA in %s is damaged: delete the folder to make a new one", dir)
	}
	cert, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the egress CA in %s is damaged (%v): delete the folder to make a new one", dir, err)
	}
	key, err := x509.ParseECPrivateKey(kp.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the egress CA key in %s is damaged (%v): delete the folder to make a new one", dir, err)
	}
	return &CA{cert: cert, key: key, PEM: cb, leaves: map[string]*tls.Certificate{}}, nil
}

// Leaf returns a certificate for host signed by the CA (made once per host and kept).
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.leaves[host]; ok && time.Until(c.Leaf.NotAfter) > time.Hour {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(0, 0, 30),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, _ := x509.ParseCertificate(der)
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	ca.leaves[host] = c
	return c, nil
}

// hostBundles are where distributions keep their CA bundle.
var hostBundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"}

// WriteCABundle writes the CA bundle a sandbox trusts: the host's bundle and paddock's CA.
func WriteCABundle(home, dst string) error {
	ca, err := LoadOrCreateCA(home)
	if err != nil {
		return fmt.Errorf("egress CA: %w", err)
	}
	return WriteBundle(ca.PEM, dst)
}

// WriteBundle writes this system's CA bundle followed by caPEM to dst. Inside a container it
// composes the container's own roots with paddock's CA.
func WriteBundle(caPEM []byte, dst string) error {
	var b []byte
	for _, p := range hostBundles {
		if hb, err := os.ReadFile(p); err == nil {
			b = append(hb, '\n')
			break
		}
	}
	b = append(b, caPEM...)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return fsutil.ReplaceFile(dst, b, 0o644)
}
