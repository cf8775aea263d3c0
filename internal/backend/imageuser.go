package backend

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"github.com/paddockhq/paddock/internal/fsutil"
)

// ImageUser is the image's USER resolved against the template's own /etc/passwd and /etc/group
// (read from its layers): ok is false when the image runs as root or names a user its files do
// not have (the sandbox's init then reports that when it starts a process).
type ImageUser struct {
	Name     string
	UID, GID int
	Home     string
}

// LookupImageUser resolves the image's USER ("name", "uid", "name:group", "uid:gid").
func LookupImageUser(img *Image) (ImageUser, bool) {
	if img == nil || img.User == "" {
		return ImageUser{}, false
	}
	name, group, hasGroup := strings.Cut(img.User, ":")
	u := ImageUser{Name: name, UID: -1, GID: -1}
	num, numErr := strconv.Atoi(name)
	for _, f := range imageFileLines(img, "/etc/passwd") {
		if len(f) < 7 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil && (f[0] == name || (numErr == nil && uid == num)) {
			u = ImageUser{Name: f[0], UID: uid, GID: gid, Home: f[5]}
			break
		}
	}
	if u.UID < 0 && numErr == nil {
		u = ImageUser{Name: name, UID: num, GID: num, Home: "/"}
	}
	if hasGroup {
		if g, err := strconv.Atoi(group); err == nil {
			u.GID = g
		} else {
			u.GID = -1
			for _, f := range imageFileLines(img, "/etc/group") {
				if len(f) >= 3 && f[0] == group {
					u.GID, _ = strconv.Atoi(f[2])
				}
			}
		}
	}
	if u.UID <= 0 || u.GID < 0 {
		return ImageUser{}, false
	}
	return u, true
}

// imageFileLines is the colon-separated lines of a file of the template (its topmost layer
// that has it). The layers are the image's: the file is read beneath each layer's root without
// following a link in any component (an image whose etc is a link to the host's /etc must not
// make paddock read the host's user table), only when it is a regular file of at most 4 MiB; a
// link, a whiteout or anything odd in the topmost layer that has the path means no users.
func imageFileLines(img *Image, p string) [][]string {
	rel := strings.TrimPrefix(p, "/")
	for i := len(img.LayerDirs) - 1; i >= 0; i-- {
		b, err := fsutil.ReadFileBeneath(img.LayerDirs[i], rel, 4<<20)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil
		}
		var out [][]string
		for _, line := range strings.Split(string(b), "\n") {
			if line != "" && line[0] != '#' {
				out = append(out, strings.Split(line, ":"))
			}
		}
		return out
	}
	return nil
}
