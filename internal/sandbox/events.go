package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paddockhq/paddock/internal/store"
)

// LimitReport says, in plain words, which limits the sandbox hit since the last report (for
// example while the command that just failed ran); empty when none.
func (m *Manager) LimitReport(ctx context.Context, rec *store.Record) []string {
	st, err := m.For(rec).State(ctx, m.Sandbox(rec))
	if err != nil || st.Status != "running" {
		return nil
	}
	path := filepath.Join(m.Store.Dir(rec.ID), "limit-events.json")
	var seen struct {
		Started       string `json:"started"`
		OOMKills      int64  `json:"oom_kills"`
		PidsLimitHits int64  `json:"pids_limit_hits"`
	}
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &seen)
	}
	if seen.Started != st.StartedAt.String() { // counters restart with the sandbox
		seen.OOMKills, seen.PidsLimitHits = 0, 0
	}
	var out []string
	if n := st.OOMKills - seen.OOMKills; n > 0 && st.Enforced != nil {
		out = append(out, fmt.Sprintf("the sandbox hit its memory limit (%s): the kernel killed %d process(es); "+
			"give it more with --memory SIZE --recreate", FormatBytes(st.Enforced.MemoryBytes), n))
	}
	if n := st.PidsLimitHits - seen.PidsLimitHits; n > 0 && st.Enforced != nil {
		out = append(out, fmt.Sprintf("the sandbox hit its process limit (%d): %d fork(s) were refused", st.Enforced.PidsMax, n))
	}
	seen.Started, seen.OOMKills, seen.PidsLimitHits = st.StartedAt.String(), st.OOMKills, st.PidsLimitHits
	if b, err := json.Marshal(seen); err == nil {
		os.WriteFile(path, b, 0o600)
	}
	return out
}
