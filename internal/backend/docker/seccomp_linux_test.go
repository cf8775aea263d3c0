package docker

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The profile allows the mode calls only with the setuid and setgid bits clear, and never
// unconditionally; openat2 answers ENOSYS; the rest of Docker's default stays.
func TestSeccompProfileSetuidRule(t *testing.T) {
	s, err := seccompProfile()
	if err != nil {
		t.Fatal(err)
	}
	var p seccomp.Seccomp
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != specs.ActErrno {
		t.Fatalf("default action %s, want Docker's (errno)", p.DefaultAction)
	}
	conditional := map[string]bool{}
	for _, sc := range p.Syscalls {
		for _, n := range sc.Names {
			_, mode := suidModeArg[n]
			switch {
			case (mode || n == "openat2") && sc.Action == specs.ActAllow && len(sc.Args) == 0:
				t.Errorf("%s allowed unconditionally", n)
			case mode && sc.Action == specs.ActAllow:
				a := sc.Args[0]
				if len(sc.Args) != 1 || a.Index != suidModeArg[n] || a.Op != specs.OpMaskedEqual || a.Value != 0o6000 || a.ValueTwo != 0 {
					t.Errorf("%s: condition %+v", n, sc.Args)
				}
				conditional[n] = true
			case n == "openat2" && (sc.Action != specs.ActErrno || sc.ErrnoRet == nil || *sc.ErrnoRet != 38):
				t.Errorf("openat2: %s %v", sc.Action, sc.ErrnoRet)
			}
		}
	}
	for n := range suidModeArg {
		if !conditional[n] {
			t.Errorf("%s: no conditional allow rule", n)
		}
	}
	allowed := func(name string) bool {
		return slices.ContainsFunc(p.Syscalls, func(sc *seccomp.Syscall) bool {
			return sc.Action == specs.ActAllow && slices.Contains(sc.Names, name)
		})
	}
	for _, n := range []string{"read", "write", "execve", "clone", "unlink"} {
		if !allowed(n) {
			t.Errorf("%s is no longer allowed", n)
		}
	}
}
