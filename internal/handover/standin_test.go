package handover_test

import (
	"reflect"
	"testing"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker"
	"github.com/paddockhq/paddock/internal/handover"
)

// TestStandInHasDockerAbilities keeps the paddock binary's stand-in for the Docker backend from
// drifting: it must have exactly the optional abilities of the real one, or paddock would treat a
// Docker sandbox differently before handing the command over (it once lost Revive).
func TestStandInHasDockerAbilities(t *testing.T) {
	real, stand := reflect.TypeOf(docker.New()), reflect.TypeOf(handover.DockerBackend{})
	for _, a := range backend.Abilities {
		it := reflect.TypeOf(a).Elem()
		if r, s := real.Implements(it), stand.Implements(it); r != s {
			t.Errorf("%s: the Docker backend has it: %v, the stand-in: %v", it, r, s)
		}
	}
	// Every exported method of the real backend is part of Backend or of an ability: a new one
	// must be declared in internal/backend, where the stand-in test sees it.
	known := map[string]bool{}
	for _, a := range append(backend.Abilities, (*backend.Backend)(nil)) {
		it := reflect.TypeOf(a).Elem()
		for i := range it.NumMethod() {
			known[it.Method(i).Name] = true
		}
	}
	for i := range real.NumMethod() {
		if m := real.Method(i).Name; !known[m] {
			t.Errorf("the Docker backend's method %s is not declared in internal/backend (Backend or an ability in backend.Abilities)", m)
		}
	}
}
