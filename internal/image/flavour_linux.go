package image

import (
	"os"

	"github.com/paddockhq/paddock/internal/idmap"
)

// CurrentFlavour is the flavour of the sandboxes this process would start: root mode as root,
// else rootless with the user's subordinate ids (or a single mapping without them).
func CurrentFlavour() Flavour {
	if os.Geteuid() == 0 {
		return rootFlavour(idmap.RootBase, idmap.RootSize)
	}
	s := idmap.Lookup()
	ok := s.OK()
	return userFlavour(os.Geteuid(), os.Getegid(), s.UIDStart, s.UIDCount, s.GIDStart, s.GIDCount, !ok)
}
