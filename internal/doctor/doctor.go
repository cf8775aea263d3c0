// Package doctor checks what this host gives a sandbox and explains, in plain words, what to fix.
package doctor

import "github.com/paddockhq/paddock/internal/backend"

// Check is one finding.
type Check struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Required checks failing mean a sandbox cannot be run safely here.
	Required bool   `json:"required"`
	Detail   string `json:"detail"`
	Fix      string `json:"fix,omitempty"`
}

// Report is the whole diagnosis.
type Report struct {
	Mode   string  `json:"mode"` // "root" or "rootless"
	Kernel string  `json:"kernel"`
	Checks []Check `json:"checks"`
	// Limits: memory and CPU limits can be enforced for this user's sandboxes.
	Limits bool `json:"limits"`
	// Protections lists what a sandbox started now would run under.
	Protections []string `json:"protections"`
	// Backend is the backend of new sandboxes; Docker is the engine found, if any.
	Backend string          `json:"backend"`
	Docker  *backend.Engine `json:"docker_engine,omitempty"`
	// Safe: every required check passed.
	Safe bool `json:"safe"`
}

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
}

func (r *Report) finish() {
	r.Safe = true
	for _, c := range r.Checks {
		if c.Required && !c.OK {
			r.Safe = false
		}
	}
}

// AddStateFolder reports whether paddock's state folder (PADDOCK_HOME) could be opened: err is
// what opening it said (nil: it could). Without it no sandbox can be made.
func (r *Report) AddStateFolder(home string, err error) {
	c := Check{Name: "state folder (PADDOCK_HOME)", Required: true, OK: err == nil, Detail: home}
	if err != nil {
		c.Detail = err.Error()
		c.Fix = "make " + home + " writable for you, or set PADDOCK_HOME to a folder you can write"
	}
	r.add(c)
	r.finish()
}
