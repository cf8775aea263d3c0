package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/docker/client"
)

// The engine paddock talks to is the docker CLI's: DOCKER_HOST (with DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH) when set, else the current Docker context (DOCKER_CONTEXT, else
// "currentContext" in the CLI's config.json), which is how Colima, OrbStack, Rancher Desktop and
// `docker context use` point the CLI at their engine; else the platform's default socket.

// configDir is the docker CLI's configuration folder.
func configDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// currentContext names the docker CLI's current context ("" or "default": none).
func currentContext() string {
	if c := os.Getenv("DOCKER_CONTEXT"); c != "" {
		return c
	}
	b, err := os.ReadFile(filepath.Join(configDir(), "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	json.Unmarshal(b, &cfg)
	return cfg.CurrentContext
}

// clientOpts are the options of every client of the engine, the host side's too.
func clientOpts() ([]client.Opt, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if os.Getenv("DOCKER_HOST") != "" {
		return opts, nil
	}
	name := currentContext()
	if name == "" || name == "default" {
		return opts, nil
	}
	// The CLI keeps a context under the SHA-256 of its name.
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	b, err := os.ReadFile(filepath.Join(configDir(), "contexts", "meta", id, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("the current Docker context %q: %v; `docker context use default`, or set DOCKER_HOST", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil || meta.Endpoints["docker"].Host == "" {
		return nil, fmt.Errorf("the current Docker context %q names no engine (%s); `docker context use default`, or set DOCKER_HOST", name, filepath.Dir(filepath.Join(configDir(), "contexts", "meta", id, "meta.json")))
	}
	opts = append(opts, client.WithHost(meta.Endpoints["docker"].Host))
	tls := filepath.Join(configDir(), "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tls, "cert.pem")); err == nil {
		ca := filepath.Join(tls, "ca.pem")
		if meta.Endpoints["docker"].SkipTLSVerify {
			ca = ""
		}
		opts = append(opts, client.WithTLSClientConfig(ca, filepath.Join(tls, "cert.pem"), filepath.Join(tls, "key.pem")))
	}
	return opts, nil
}

// newClient connects as the docker CLI would (see above).
func newClient() (*client.Client, error) {
	opts, err := clientOpts()
	if err != nil {
		return nil, err
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("%v; set DOCKER_HOST to the engine's address", err)
	}
	return c, nil
}
