package remote

import (
	"encoding/base64"

	it "github.com/paddockhq/paddock/internal/image/imagetest"
)

type ent = it.Ent

var (
	requireRoot = it.RequireRoot
	lstat       = it.Lstat
	absent      = it.Absent
	file        = it.File
	dir         = it.Dir
	symlink     = it.Symlink
	hardlink    = it.Hardlink
	tarBytes    = it.Tar
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
