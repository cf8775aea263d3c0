package native

// Exported views of the id mappings the engine uses, for packages that must lay files out with
// the owners a sandbox will see (the image layer cache).

// RootIDBase and RootIDCount are the root-mode mapping: sandbox ids 0..RootIDCount-1 are host ids
// RootIDBase.. .
const (
	RootIDBase  = rootModeBase
	RootIDCount = rootModeSize
)

// SubordinateIDs are the calling user's subordinate ranges, as a rootless sandbox maps them:
// 0 is the user (UID, GID), 1..UIDCount are host ids UIDStart.. (and likewise for groups).
type SubordinateIDs struct {
	UID, GID           int
	UIDStart, UIDCount int
	GIDStart, GIDCount int
	// AsUID, AsGID: an image's non-root user that is the calling user (ids 0..count-1 other
	// than it are UIDStart+n); 0 for the usual mapping.
	AsUID, AsGID int
}

// LookupSubordinateIDs returns the caller's ranges and whether a rootless sandbox can use them
// (ranges in /etc/subuid and /etc/subgid, and the newuidmap/newgidmap helpers installed).
func LookupSubordinateIDs() (SubordinateIDs, bool) {
	s := lookupSubIDs()
	return SubordinateIDs{UID: s.uid, GID: s.gid, UIDStart: s.uidStart, UIDCount: s.uidCount,
		GIDStart: s.gidStart, GIDCount: s.gidCount}, s.ok()
}

// WriteMaps writes this mapping for process pid (which must be in a new user namespace without
// maps yet) with newuidmap and newgidmap, exactly as a rootless sandbox gets it.
func (s SubordinateIDs) WriteMaps(pid int) error {
	t := lookupSubIDs()
	t.uid, t.gid, t.uidStart, t.uidCount, t.gidStart, t.gidCount = s.UID, s.GID, s.UIDStart, s.UIDCount, s.GIDStart, s.GIDCount
	t.asUID, t.asGID = s.AsUID, s.AsGID
	if !t.ok() {
		return errNoSubIDs
	}
	return t.apply(pid)
}

type subIDError string

func (e subIDError) Error() string { return string(e) }

const errNoSubIDs = subIDError("no subordinate ids: add ranges for this user to /etc/subuid and /etc/subgid and install newuidmap/newgidmap (package uidmap)")
