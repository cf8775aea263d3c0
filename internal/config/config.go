// Package config reads paddock's small configuration file: `key = "value"` lines (a subset of
// TOML), at $PADDOCK_CONFIG, else $XDG_CONFIG_HOME/paddock/config.toml, else
// ~/.config/paddock/config.toml. A missing file is an empty configuration.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrBadConfig marks a configuration file paddock cannot read.
var ErrBadConfig = errors.New("bad configuration file")

// Config is what the file sets.
type Config struct {
	Path string `json:"path"`
	// Backend is "native" or "docker" ("" when unset).
	Backend string `json:"backend,omitempty"`
	// DockerImage is the image of host-template sandboxes on the Docker backend.
	DockerImage string `json:"docker_image,omitempty"`
	// AgentUpdates is how often a newer agent version is looked for: a duration ("24h"), or
	// "off" (only `paddock agents update`); "" for the default, once a day.
	AgentUpdates string `json:"agent_updates,omitempty"`
	// AgentNPMAuth carries the user's npm auth token for the registry into the agents' install
	// sandbox ("true"; a private registry); by default no credential enters it.
	AgentNPMAuth string `json:"agent_npm_auth,omitempty"`
	// UnsafeNoLimits: sandboxes start where the host cannot limit their memory and CPU, as with
	// --unsafe-no-limits.
	UnsafeNoLimits bool `json:"unsafe_no_limits,omitempty"`
	// Disk is the disk limit of new sandboxes, as --disk takes it ("20g", "20g,inodes=1m",
	// "none"); "" for paddock's default.
	Disk string `json:"disk,omitempty"`
}

// Keys paddock knows.
var known = map[string]func(*Config, string) error{
	"backend":        func(c *Config, v string) error { c.Backend = v; return nil },
	"docker_image":   func(c *Config, v string) error { c.DockerImage = v; return nil },
	"agent_updates":  func(c *Config, v string) error { c.AgentUpdates = v; return nil },
	"agent_npm_auth": func(c *Config, v string) error { c.AgentNPMAuth = v; return nil },
	"disk":           func(c *Config, v string) error { c.Disk = v; return nil },
	"unsafe_no_limits": func(c *Config, v string) (err error) {
		if c.UnsafeNoLimits, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("unsafe_no_limits is true or false, not %q", v)
		}
		return nil
	},
}

// DefaultPath is where the file is looked for.
func DefaultPath() string {
	if p := os.Getenv("PADDOCK_CONFIG"); p != "" {
		return p
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "paddock", "config.toml")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config", "paddock", "config.toml")
	}
	return ""
}

// Load reads the file at DefaultPath.
func Load() (Config, error) { return LoadFile(DefaultPath()) }

// LoadFile reads the file at path.
func LoadFile(path string) (Config, error) {
	c := Config{Path: path}
	if path == "" {
		return c, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return c, fmt.Errorf("%w: %s line %d: write key = \"value\"", ErrBadConfig, path, n)
		}
		if i := strings.Index(v, " #"); i >= 0 && !strings.HasPrefix(v, `"`) {
			v = strings.TrimSpace(v[:i])
		}
		if strings.HasPrefix(v, `"`) {
			end := strings.LastIndex(v, `"`)
			if end <= 0 {
				return c, fmt.Errorf("%w: %s line %d: unterminated string", ErrBadConfig, path, n)
			}
			uq, err := strconv.Unquote(v[:end+1])
			if err != nil {
				return c, fmt.Errorf("%w: %s line %d: %v", ErrBadConfig, path, n, err)
			}
			v = uq
		}
		set, ok := known[k]
		if !ok {
			return c, fmt.Errorf("%w: %s line %d: unknown key %q (known: backend, docker_image, agent_updates, agent_npm_auth, unsafe_no_limits, disk)", ErrBadConfig, path, n, k)
		}
		if err := set(&c, v); err != nil {
			return c, fmt.Errorf("%w: %s line %d: %v", ErrBadConfig, path, n, err)
		}
	}
	return c, sc.Err()
}
