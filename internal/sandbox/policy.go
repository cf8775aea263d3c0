package sandbox

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/store"
)

// AuditRecord is one connection a sandbox's egress proxy judged, as its audit log keeps it.
type AuditRecord = egress.Record

// AuditLog returns the audit records of the sandboxes recs, oldest first across them; last > 0
// keeps only the last that many. A record without a sandbox name gets its sandbox's.
func (m *Manager) AuditLog(ctx context.Context, recs []*store.Record, last int) ([]AuditRecord, error) {
	var all []AuditRecord
	for _, rec := range recs {
		var mine []AuditRecord
		err := egress.ReadAudit(ctx, m.Store.Dir(rec.ID), false, func(r egress.Record) error {
			if r.Sandbox == "" {
				r.Sandbox = rec.Name
			}
			mine = append(mine, r)
			// One sandbox's log can be long: keep no more than can be returned.
			if last > 0 && len(mine) >= 2*last {
				mine = slices.Delete(mine, 0, len(mine)-last)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if last > 0 && len(mine) > last {
			mine = mine[len(mine)-last:]
		}
		all = append(all, mine...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	if last > 0 && len(all) > last {
		all = all[len(all)-last:]
	}
	return all, nil
}

// PolicyVerdict is whether a sandbox's egress proxy would let a connection through now, and why.
type PolicyVerdict struct {
	Sandbox  string   `json:"sandbox"`
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Decision string   `json:"decision"` // allow or deny
	Rule     string   `json:"rule,omitempty"`
	Source   string   `json:"source,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Addrs    []string `json:"addrs,omitempty"`
	// AllowCommand would allow a refused connection (the narrowest rule that does).
	AllowCommand string `json:"allow_command,omitempty"`
}

// Allowed reports whether the connection would go.
func (v PolicyVerdict) Allowed() bool { return v.Decision == "allow" }

// PolicyCheck judges target (a URL, or host:port) as rec's egress proxy would now, resolving the
// name as the proxy does. A target that cannot be read is bad input; a refusal is a verdict, not
// an error.
func (m *Manager) PolicyCheck(ctx context.Context, rec *store.Record, target string) (PolicyVerdict, error) {
	host, port, err := egress.SplitTarget(target)
	if err != nil {
		return PolicyVerdict{}, badInput("%s", err.Error())
	}
	v := PolicyVerdict{Sandbox: rec.Name, Host: host, Port: port, Decision: "deny"}
	if rec.Spec.Egress == nil {
		v.Reason = "the sandbox has no network (made before egress existed; re-create it with --recreate --network balanced)"
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, _, d, err := egress.Check(ctx, egress.Options{Home: m.Store.Root, StateDir: m.Store.Dir(rec.ID),
		Sandbox: rec.Name, Preset: rec.Spec.Egress.Policy}, target)
	if err != nil {
		return PolicyVerdict{}, err
	}
	v.Rule, v.Source, v.Reason = d.Rule, d.Source, d.Reason
	if d.Allow {
		v.Decision, v.Reason = "allow", ""
	}
	for _, a := range d.Addrs {
		v.Addrs = append(v.Addrs, a.String())
	}
	if !d.Allow {
		v.AllowCommand = egress.AllowHint(host, port, d, rec.Name)
	}
	return v, nil
}
