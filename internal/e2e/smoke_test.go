package e2e

import (
	"strings"
	"testing"
)

func TestSmokeRunShell(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		ws := e.workspace("proj")
		r := e.run(ws, "run", "shell", "-c", "pwd; exit 3")
		if r.code != 3 || strings.TrimSpace(r.stdout) != ws {
			t.Fatalf("want exit 3 and pwd %s, got %s", ws, r)
		}
	})
}
