// Package manpage writes paddock's manual pages from its command tree. It links cobra's
// generator (a Markdown renderer and a YAML library), whose initialisation would run in every
// paddock process: only paddock-oci links it, and paddock hands `paddock man` over.
package manpage

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Write writes paddock(1) on out when dir is "", else every page (paddock.1, paddock-run.1, ...)
// into the folder dir.
func Write(root *cobra.Command, version, dir string, out io.Writer) error {
	hdr := &doc.GenManHeader{Title: "PADDOCK", Section: "1", Source: "paddock " + version, Manual: "paddock manual"}
	if dir == "" {
		return doc.GenMan(root, hdr, out)
	}
	root.DisableAutoGenTag = true
	return doc.GenManTree(root, hdr, dir)
}
