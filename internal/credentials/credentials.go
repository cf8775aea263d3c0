// Package credentials keeps the API keys paddock hands to agents (PADDOCK_HOME/secrets/NAME,
// mode 0600, in a 0700 folder, outside every workspace and sandbox) and decides what a sandbox
// gets for each of them.
package credentials

import (
	"errors"
	"fmt"
	"github.com/paddockhq/paddock/internal/fsutil"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/egress"
)

// Names are the secrets paddock knows.
var Names = []string{"anthropic", "github", "google", "openai"}

// Error categories.
var (
	ErrUnknown = errors.New("unknown secret")
	ErrNotSet  = errors.New("secret not set")
	ErrEmpty   = errors.New("empty secret")
)

// Check reports whether name is a secret paddock knows.
func Check(name string) error {
	if slices.Contains(Names, name) {
		return nil
	}
	return fmt.Errorf("%w %q: choose one of %s", ErrUnknown, name, strings.Join(Names, ", "))
}

// Store is the secrets folder.
type Store struct {
	Dir string
}

// Open returns the store in dir (created on first Set).
func Open(dir string) *Store { return &Store{Dir: dir} }

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name) }

// Set stores a secret's value, replacing any earlier one atomically.
func (s *Store) Set(name, value string) error {
	if err := Check(name); err != nil {
		return err
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return fmt.Errorf("%w: nothing was given for %s", ErrEmpty, name)
	}
	if strings.ContainsAny(value, "\x00\r\n") {
		return fmt.Errorf("the value for %s spans several lines; give the key alone", name)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return err
	}
	return fsutil.ReplaceFileSync(s.path(name), []byte(value), 0o600)
}

// Get returns a secret's value.
func (s *Store) Get(name string) (string, error) {
	if err := Check(name); err != nil {
		return "", err
	}
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s (set it with `paddock secret set %s`)", ErrNotSet, name, name)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// List returns the names of the secrets that are set, sorted.
func (s *Store) List() ([]string, error) {
	var out []string
	for _, n := range Names {
		if _, err := os.Stat(s.path(n)); err == nil {
			out = append(out, n)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return out, nil
}

// Remove deletes a secret.
func (s *Store) Remove(name string) error {
	if err := Check(name); err != nil {
		return err
	}
	err := os.Remove(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotSet, name)
	}
	if err == nil {
		err = s.SetEndpoint(name, "") // its endpoint goes with it
	}
	return err
}

// Grant decides what the sandbox gets for a stored secret: a placeholder
// (egress.Placeholder), never the key. The sandbox's egress proxy intercepts the TLS of the
// service's hosts (egress.Services) and puts the real key where the placeholder is, so the key
// exists nowhere inside the sandbox: not in its environment, files or processes' memory. ok is
// false when the secret is not set.
func (s *Store) Grant(sandboxID, name string) (value string, ok bool, err error) {
	_, err = s.Get(name)
	if errors.Is(err, ErrNotSet) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return egress.Placeholder(name), true, nil
}

// AgentEnv is the environment that carries an agent's keys into a sandbox: KEY=VALUE for each of
// the agent's keys whose secret is set.
func (s *Store) AgentEnv(sandboxID string, a agent.Agent) ([]string, error) {
	var env []string
	for _, k := range a.Info().Keys {
		v, ok, err := s.Grant(sandboxID, k.Secret)
		if err != nil {
			return nil, fmt.Errorf("reading secret %s: %w", k.Secret, err)
		}
		if ok && k.Env != "" { // "": the agent's own mechanism (k.Helper) supplies it
			env = append(env, k.Env+"="+v)
		}
	}
	return env, nil
}

// UsedBy lists the agents that receive a secret, and the variables it travels in.
func UsedBy(name string) (agents, env []string) {
	for _, n := range agent.Names() {
		a, _ := agent.Lookup(n)
		for _, k := range a.Info().Keys {
			if k.Secret == name {
				agents = append(agents, n)
				if k.Env != "" && !slices.Contains(env, k.Env) {
					env = append(env, k.Env)
				}
			}
		}
	}
	return agents, env
}
