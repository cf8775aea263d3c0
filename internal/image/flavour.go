package image

import (
	"fmt"
)

// Flavour is how a sandbox's ids map to host ids, and so who owns the unpacked files on disk.
// Layers are unpacked once per flavour, in layers/<flavour name>/, because the same image file
// must have different host owners for root-mode and rootless sandboxes.
type Flavour struct {
	Name string `json:"name"`
	// Rootless: unpacked in a user namespace mapped as the user's sandboxes are.
	Rootless bool `json:"rootless"`
	// Squash: rootless without subordinate ids; only root exists inside, so files of every other
	// owner belong to root.
	Squash bool `json:"squash,omitempty"`
	// Root mode: sandbox id n is host id Base+n, for n < Count.
	Base  int `json:"base,omitempty"`
	Count int `json:"count,omitempty"`
	// Rootless: 0 is UID/GID, 1..UIDCount are UIDStart.. (groups alike).
	UID      int `json:"uid,omitempty"`
	GID      int `json:"gid,omitempty"`
	UIDStart int `json:"uid_start,omitempty"`
	UIDCount int `json:"uid_count,omitempty"`
	GIDStart int `json:"gid_start,omitempty"`
	GIDCount int `json:"gid_count,omitempty"`
	// AsUID/AsGID (rootless with subordinate ids): the image's non-root USER, whose files are
	// the user's own on disk; then root and every other id inside are subordinate ids (id n is
	// UIDStart+n), so that what that user writes in the workspace belongs to the host user.
	AsUID int `json:"as_uid,omitempty"`
	AsGID int `json:"as_gid,omitempty"`
}

// ForUser is the rootless flavour in which the image user uid:gid is the host user (see AsUID),
// or f itself where that does not apply (root mode, no subordinate ids, root, ids out of range).
func (f Flavour) ForUser(uid, gid int) Flavour {
	if !f.Rootless || f.Squash || f.AsUID != 0 || uid <= 0 || gid <= 0 || uid >= f.UIDCount || gid >= f.GIDCount {
		return f
	}
	g := f
	g.AsUID, g.AsGID = uid, gid
	g.Name = fmt.Sprintf("%s-as-%d-%d", f.Name, uid, gid)
	return g
}

func rootFlavour(base, count int) Flavour {
	return Flavour{Name: fmt.Sprintf("root-%d-%d", base, count), Base: base, Count: count}
}

func userFlavour(uid, gid, us, uc, gs, gc int, squash bool) Flavour {
	f := Flavour{Rootless: true, Squash: squash, UID: uid, GID: gid}
	if squash {
		f.Name = fmt.Sprintf("user-%d-%d-single", uid, gid)
		return f
	}
	f.UIDStart, f.UIDCount, f.GIDStart, f.GIDCount = us, uc, gs, gc
	f.Name = fmt.Sprintf("user-%d-%d-sub-%d-%d-%d-%d", uid, gid, us, uc, gs, gc)
	return f
}

// nobody is the id given to owners beyond the mapped range (when it exists there).
const nobody = 65534

// mapID is the owner a file of image owner uid:gid gets, as seen by the unpacking process: the
// host id in root mode, the namespace id in a user namespace.
func (f Flavour) mapID(uid, gid int) (int, int, bool) {
	if !f.Rootless {
		squashed := false
		if uid < 0 || uid >= f.Count {
			uid, squashed = nobody, true
		}
		if gid < 0 || gid >= f.Count {
			gid, squashed = nobody, true
		}
		return f.Base + uid, f.Base + gid, squashed
	}
	if f.Squash {
		return 0, 0, uid != 0 || gid != 0
	}
	squashed := false
	last := 0
	if f.AsUID != 0 {
		last = -1 // ids 0..count-1 are mapped
	}
	m := func(id, count int) int {
		if id >= 0 && id <= count+last {
			return id
		}
		squashed = true
		if nobody <= count {
			return nobody
		}
		return 0
	}
	return m(uid, f.UIDCount), m(gid, f.GIDCount), squashed
}

// opaqueXattrs: in root mode both (an overlay mounted by real root reads trusted.*, one mounted
// inside a user namespace with userxattr reads user.*); rootless can only set user.*.
func (f Flavour) opaqueXattrs() []string {
	if f.Rootless {
		return []string{"user.overlay.opaque"}
	}
	return []string{"trusted.overlay.opaque", "user.overlay.opaque"}
}

// Describe says in words how owners land on disk.
func (f Flavour) Describe() string {
	switch {
	case !f.Rootless:
		return fmt.Sprintf("root mode: image ids 0-%d are host ids %d-%d", f.Count-1, f.Base, f.Base+f.Count-1)
	case f.Squash:
		return fmt.Sprintf("rootless without subordinate ids: every file belongs to root inside (host uid %d); "+
			"add ranges to /etc/subuid and /etc/subgid and install newuidmap (package uidmap) to keep image owners", f.UID)
	case f.AsUID != 0:
		return fmt.Sprintf("rootless, for the image user %d: it is host uid %d, root and the other image ids n are host ids %d+n", f.AsUID, f.UID, f.UIDStart)
	default:
		return fmt.Sprintf("rootless: root is host uid %d, image ids 1-%d are host ids %d-%d", f.UID, f.UIDCount, f.UIDStart, f.UIDStart+f.UIDCount-1)
	}
}
