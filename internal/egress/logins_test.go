package egress

import (
	"net/netip"
	"testing"
)

// TestBalancedAllowsSignIns: the agents' own sign-ins work inside a sandbox of the default preset
// (Claude's /login, Codex's ChatGPT device sign-in, Gemini's Google login, OpenCode's).
func TestBalancedAllowsSignIns(t *testing.T) {
	pol := &Policy{Preset: Balanced, Entries: PresetEntries(Balanced)}
	public := []netip.AddrPort{netip.MustParseAddrPort("93.184.216.34:443")}
	for _, host := range []string{
		"claude.ai", "console.anthropic.com", "api.anthropic.com", "platform.claude.com",
		"auth.openai.com", "chatgpt.com", "api.openai.com",
		"accounts.google.com", "oauth2.googleapis.com", "www.googleapis.com", "cloudcode-pa.googleapis.com",
		"generativelanguage.googleapis.com",
	} {
		if d := pol.Decide(host, 443, public, false, SpecialKind); !d.Allow {
			t.Errorf("balanced refuses %s:443, which a sign-in needs: %s", host, d.Reason)
		}
	}
}
