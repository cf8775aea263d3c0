package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultUpdateEvery is how often paddock asks the registry for a newer version of an agent that
// follows the latest.
const DefaultUpdateEvery = 24 * time.Hour

func (in *Installer) checkedPath(agent string) string {
	return filepath.Join(in.Root, agent, ".checked")
}

// LastChecked is when the registry was last asked for the agent's latest version (zero: never).
func (in *Installer) LastChecked(agent string) time.Time {
	st, err := os.Stat(in.checkedPath(agent))
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func (in *Installer) touchChecked(agent string) {
	p := in.checkedPath(agent)
	if os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		os.WriteFile(p, nil, 0o644)
	}
}

// maybeUpdate starts a background update of the agent when its last check is older than
// UpdateEvery. The mark is set first, so that the sandboxes starting meanwhile do not start one
// each.
func (in *Installer) maybeUpdate(agent, backend string) {
	every := in.UpdateEvery
	if every == 0 {
		every = DefaultUpdateEvery
	}
	if every < 0 || in.Background == nil {
		return
	}
	if time.Since(in.LastChecked(agent)) < every {
		return
	}
	in.touchChecked(agent)
	if err := in.Background(agent, backend); err != nil {
		in.say("warning: cannot start the background update of %s: %v", agent, err)
	}
}

// Update asks the registry for the agent's latest version and installs it when it is not
// installed yet; it returns that version and whether it installed it.
func (in *Installer) Update(ctx context.Context, a Agent, backend string) (Installed, bool, error) {
	if a.Info().Package == "" {
		return Installed{}, false, fmt.Errorf("agent %s comes with the template: nothing to update", a.Name())
	}
	in.touchChecked(a.Name())
	config := in.readConfig(ctx) // beside asking the registry: most updates install
	v, err := in.tagVersion(ctx, a.Info().Package, "latest", config)
	if err != nil {
		v, err = in.view(ctx, a.Info().Package)
	}
	if err != nil {
		return Installed{}, false, fmt.Errorf("cannot ask the npm registry for the latest %s: %w", a.Name(), err)
	}
	dir := filepath.Join(in.Root, a.Name(), v)
	inst := Installed{Agent: a.Name(), Version: v, Dir: dir}
	if isDir(dir) {
		in.setLatest(a.Name(), v)
		return inst, false, nil
	}
	if err := in.install(ctx, a, v, dir, backend, config); err != nil {
		return Installed{}, false, err
	}
	in.setLatest(a.Name(), v)
	return inst, true, nil
}

// knownLatest is the version the registry last named the latest and that is installed ("" if
// none): the version sandboxes that follow the latest start, without asking the registry.
func (in *Installer) knownLatest(agent string) string {
	b, err := os.ReadFile(filepath.Join(in.Root, agent, ".latest"))
	v := strings.TrimSpace(string(b))
	if err != nil || !exactRE().MatchString(v) {
		return ""
	}
	return v
}

func (in *Installer) setLatest(agent, version string) {
	p := filepath.Join(in.Root, agent, ".latest")
	tmp := p + ".tmp"
	if os.WriteFile(tmp, []byte(version+"\n"), 0o644) == nil {
		os.Rename(tmp, p)
	}
}
