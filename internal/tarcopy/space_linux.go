package tarcopy

import "golang.org/x/sys/unix"

func freeSpace(dir string) (space, bool) {
	var s unix.Statfs_t
	if unix.Statfs(dir, &s) != nil {
		return space{}, false
	}
	bs := int64(s.Bsize)
	return space{availBytes: int64(s.Bavail) * bs, totalBytes: int64(s.Blocks) * bs,
		freeInodes: int64(s.Ffree), totalInodes: int64(s.Files)}, true
}
