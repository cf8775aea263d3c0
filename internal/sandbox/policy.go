package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/paddockhq/paddock/internal/egress"
	"github.com/paddockhq/paddock/internal/store"
)

// The egress policy as front ends see it: rules, where each comes from, and the audit log.
type (
	// Rule is one egress rule: a host, *.domain or address range, with an optional port.
	Rule = egress.Rule
	// AuditRecord is one connection a sandbox made (or tried), as its proxy logged it.
	AuditRecord = egress.Record
)

// The egress presets (--network).
const (
	NetworkLocked   = egress.Locked
	NetworkBalanced = egress.Balanced
	NetworkOpen     = egress.Open
)

// ParseRule reads a rule as a user writes it.
func ParseRule(s string) (Rule, error) {
	r, err := egress.ParseRule(s)
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return r, nil
}

// Printable is s escaped for a terminal: one line, no control sequences (names in the audit
// log come from inside sandboxes).
func Printable(s string) string { return egress.Printable(s) }

// RuleView is one rule and where it comes from (preset:NAME, global or sandbox).
type RuleView struct {
	Action string `json:"action"`
	Rule   string `json:"rule"`
	Source string `json:"source"`
}

// policyScope is the global rules file, or the sandbox's own when ref names one; where says
// which, for messages.
func (m *Manager) policyScope(ref string) (file egress.RuleFile, where string, err error) {
	if ref == "" {
		return egress.RuleFile{Path: egress.GlobalPolicyPath(m.Store.Root), Source: "global"}, "every sandbox", nil
	}
	rec, err := m.Store.Resolve(ref)
	if err != nil {
		return egress.RuleFile{}, "", fmt.Errorf("%w: --sandbox: %w", ErrBadInput, err)
	}
	return egress.RuleFile{Path: egress.SandboxPolicyPath(m.Store.Dir(rec.ID)), Source: "sandbox"}, "sandbox " + rec.Name, nil
}

// AddRules adds allow (or deny) rules for every sandbox, or only the sandbox ref; running
// sandboxes follow at once. It returns whom they apply to ("every sandbox", "sandbox NAME").
func (m *Manager) AddRules(ref string, deny bool, rules ...Rule) (string, error) {
	file, where, err := m.policyScope(ref)
	if err != nil {
		return "", err
	}
	return where, file.Add(deny, rules...)
}

// RemoveRule removes a global rule, or the sandbox ref's own. A rule that is not there is bad
// input, and one that comes from a preset says how to refuse it instead.
func (m *Manager) RemoveRule(ref string, r Rule) error {
	file, scope, err := m.policyScope(ref)
	if err != nil {
		return err
	}
	err = file.Remove(r)
	if !errors.Is(err, egress.ErrNoRule) {
		return err
	}
	where := "the global rules"
	if ref != "" {
		where = "the rules of " + scope
	}
	for _, p := range egress.Presets {
		for _, e := range egress.PresetEntries(p) {
			if e.Rule == r {
				return fmt.Errorf("%w: %s is not in %s: it comes from the %s preset; to refuse it: paddock policy deny %s", ErrBadInput, r, where, p, r)
			}
		}
	}
	return fmt.Errorf("%w: %s is not in %s (see `paddock policy ls`)", ErrBadInput, r, where)
}

// Rules lists the global rules; with ref, every rule in force for that sandbox: its preset's,
// the global ones and its own, in the order they are read (a deny rule wins wherever it is).
func (m *Manager) Rules(ref string) ([]RuleView, error) {
	var entries []egress.Entry
	var err error
	if ref == "" {
		entries, err = egress.RuleFile{Path: egress.GlobalPolicyPath(m.Store.Root), Source: "global"}.Read()
	} else {
		rec, rerr := m.Store.Resolve(ref)
		if rerr != nil {
			return nil, fmt.Errorf("%w: --sandbox: %w", ErrBadInput, rerr)
		}
		if rec.Spec.Egress == nil {
			return nil, fmt.Errorf("sandbox %s has no network at all (made before egress existed); re-create it with --recreate --network balanced to give it one", rec.Name)
		}
		var p *egress.Policy
		p, err = egress.LoadPolicy(m.Store.Root, m.Store.Dir(rec.ID), rec.Spec.Egress.Policy)
		if p != nil {
			entries = p.Entries
		}
	}
	if err != nil {
		return nil, err
	}
	views := []RuleView{}
	for _, e := range entries {
		views = append(views, RuleView{Action: e.Action(), Rule: e.Rule.String(), Source: e.Source})
	}
	return views, nil
}

// AuditLog returns the connections the sandboxes of recs made, oldest first across them; with
// follow, it then calls each on every new one until ctx ends. each may be called from several
// goroutines, one at a time.
func (m *Manager) AuditLog(ctx context.Context, recs []*store.Record, follow bool, each func(AuditRecord) error) error {
	var all []egress.Record
	for _, rec := range recs {
		err := egress.ReadAudit(ctx, m.Store.Dir(rec.ID), false, func(r egress.Record) error {
			if r.Sandbox == "" {
				r.Sandbox = rec.Name
			}
			all = append(all, r)
			return nil
		})
		if err != nil {
			return err
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	for _, r := range all {
		if err := each(r); err != nil {
			return err
		}
	}
	if !follow {
		return nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			egress.TailAudit(ctx, m.Store.Dir(rec.ID), func(r egress.Record) error {
				mu.Lock()
				defer mu.Unlock()
				return each(r)
			})
		}()
	}
	wg.Wait()
	return nil
}

// CheckResult is the proxy's judgement of one destination for a sandbox.
type CheckResult struct {
	Sandbox  string   `json:"sandbox"`
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Decision string   `json:"decision"`
	Rule     string   `json:"rule,omitempty"`
	Source   string   `json:"source,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Addrs    []string `json:"addrs,omitempty"`
	// AllowCommand would allow a refused connection (the narrowest rule that does).
	AllowCommand string `json:"allow_command,omitempty"`
}

// Allowed reports whether the proxy would allow it.
func (c CheckResult) Allowed() bool { return c.Decision == "allow" }

// CheckEgress judges target (a URL or host:port) as the sandbox's proxy would now, resolving
// its name with the proxy's resolver.
func (m *Manager) CheckEgress(ctx context.Context, rec *store.Record, target string) (CheckResult, error) {
	if _, _, err := egress.SplitTarget(target); err != nil {
		return CheckResult{}, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	v := CheckResult{Sandbox: rec.Name, Decision: "deny"}
	if rec.Spec.Egress == nil {
		v.Host, v.Port, _ = egress.SplitTarget(target)
		v.Reason = "the sandbox has no network (made before egress existed; re-create it with --recreate --network balanced)"
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	host, port, d, err := egress.Check(ctx, egress.Options{Home: m.Store.Root, StateDir: m.Store.Dir(rec.ID),
		Sandbox: rec.Name, Preset: rec.Spec.Egress.Policy}, target)
	if err != nil {
		return CheckResult{}, err
	}
	v.Host, v.Port, v.Rule, v.Source, v.Reason = host, port, d.Rule, d.Source, d.Reason
	if d.Allow {
		v.Decision, v.Reason = "allow", ""
	}
	for _, a := range d.Addrs {
		v.Addrs = append(v.Addrs, a.String())
	}
	if !v.Allowed() {
		v.AllowCommand = egress.AllowHint(v.Host, v.Port, d, rec.Name)
	}
	return v, nil
}
