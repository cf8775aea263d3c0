package image

import "testing"

// TestFlavourForUser: the flavour of an image user exists only rootless with subordinate ids,
// for a non-root user inside the range; its ids are 0..count-1.
func TestFlavourForUser(t *testing.T) {
	sub := userFlavour(1002, 1002, 165536, 65535, 165536, 65535, false)
	for _, tc := range []struct {
		name     string
		f        Flavour
		uid, gid int
		same     bool
	}{
		{"root mode", rootFlavour(1<<30, 65536), 1000, 1000, true},
		{"without subordinate ids", userFlavour(1002, 1002, 0, 0, 0, 0, true), 1000, 1000, true},
		{"root user", sub, 0, 0, true},
		{"root group", sub, 1000, 0, true},
		{"beyond the range", sub, 70000, 70000, true},
		{"agent", sub, 1000, 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.f.ForUser(tc.uid, tc.gid)
			if (g.Name == tc.f.Name) != tc.same {
				t.Fatalf("ForUser(%d, %d) = %q from %q", tc.uid, tc.gid, g.Name, tc.f.Name)
			}
			if !tc.same && (g.AsUID != tc.uid || g.AsGID != tc.gid || g.ForUser(5, 5).Name != g.Name) {
				t.Fatalf("ForUser: %+v", g)
			}
		})
	}
	g := sub.ForUser(1000, 1000)
	for _, c := range []struct{ id, want int }{{0, 0}, {1000, 1000}, {65534, 65534}, {65535, 65534}, {70000, 65534}} {
		if got, _, _ := g.mapID(c.id, 0); got != c.want {
			t.Errorf("mapID(%d) = %d, want %d", c.id, got, c.want)
		}
	}
}
