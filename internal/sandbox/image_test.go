package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/image"
	"github.com/paddockhq/paddock/internal/store"
)

func TestResolveImageErrors(t *testing.T) {
	m := &Manager{Store: &store.Store{Root: t.TempDir()}}
	for _, tt := range []struct {
		name string
		o    Options
		is   error
		want string
	}{
		{"bad reference", Options{Template: "Bad Ref!"}, ErrBadInput, "Bad Ref!"},
		{"bad pull policy", Options{Template: "debian:bookworm", Pull: "sometimes"}, ErrBadInput, "--pull \"sometimes\""},
		{"not cached, never pull", Options{Template: "example.com/none:1", Pull: "never"}, image.ErrNotFound, "not in the cache"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.resolveImage(context.Background(), tt.o)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("resolveImage(%+v) = %v; want one line with %q, errors.Is %v", tt.o, err, tt.want, tt.is)
			}
		})
	}
}
