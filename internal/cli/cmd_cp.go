package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paddockhq/paddock/internal/sandbox"
	"github.com/paddockhq/paddock/internal/store"
)

// splitRef splits a cp operand into a sandbox and a path ("" for a host path): SANDBOX:PATH,
// where SANDBOX holds no "/" (a host path with a colon is written ./a:b).
func splitRef(arg string) (string, string) {
	name, p, ok := strings.Cut(arg, ":")
	if !ok || name == "" || strings.ContainsRune(name, '/') || strings.HasPrefix(name, ".") {
		return "", arg
	}
	return name, p
}

func newCpCmd(f *Factory) *cobra.Command {
	var o sandbox.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [-a] [-L] SANDBOX:SRC DEST|- | SRC|- SANDBOX:DEST | SANDBOX:SRC SANDBOX:DEST",
		Short: "Copy files and folders between a sandbox and the host",
		Long: `Copy a file or folder out of a sandbox or into it, as docker cp does: into DEST when it is a
folder, as DEST otherwise; SRC ending in /. copies a folder's contents. A relative path in the
sandbox is below its workspace. Modes and times are kept; -a keeps the owners too. A symlink is
copied as a symlink (-L copies what it points to). What comes out of a sandbox never lands
outside DEST, whatever links the sandbox planted; device files are not copied, and setuid and
setgid bits are dropped. A stopped sandbox is started.

DEST - writes a tar stream of SRC on stdout; SRC - extracts a tar stream from stdin into the
folder DEST (as docker cp does). SANDBOX:SRC SANDBOX:DEST copies from one sandbox to another.`,
		Example: `  paddock cp claude-myrepo:/tmp/report.html .      # out of the sandbox
  paddock cp ./fixtures claude-myrepo:/tmp/         # into it
  paddock cp claude-myrepo:/root/.cache/. ./cache   # a folder's contents
  paddock cp claude-myrepo:/tmp/out - | tar -t      # a tar stream on stdout
  paddock cp claude-a:/tmp/report claude-b:/tmp/    # from one sandbox to another`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcBox, src := splitRef(args[0])
			destBox, dest := splitRef(args[1])
			switch {
			case srcBox == "" && destBox == "":
				return withCode(ExitUsage, errors.New("name a sandbox on one side: SANDBOX:PATH"))
			case (src == "-" && srcBox == "" && destBox == "") || (dest == "-" && srcBox == ""):
				return withCode(ExitUsage, errors.New("- (a tar stream) goes with a sandbox on the other side"))
			}
			m, err := f.Manager()
			if err != nil {
				return err
			}
			resolve := func(ref string) (*store.Record, error) {
				if ref == "" {
					return nil, nil
				}
				rec, err := m.Resolve(ref)
				if err != nil {
					return nil, withCode(ExitUsage, err)
				}
				return rec, nil
			}
			from, err := resolve(srcBox)
			if err != nil {
				return err
			}
			to, err := resolve(destBox)
			if err != nil {
				return err
			}
			o.Out, o.In = f.IO.Out, f.IO.In
			var rep sandbox.CopyReport
			switch {
			case from != nil && to != nil:
				rep, err = m.CopyBetween(cmd.Context(), from, src, to, dest, o)
			case from != nil:
				rep, err = m.CopyFrom(cmd.Context(), from, src, dest, o)
			default:
				rep, err = m.CopyTo(cmd.Context(), to, src, dest, o)
			}
			if err != nil {
				return err
			}
			for _, s := range rep.Skipped {
				fmt.Fprintf(f.IO.Err, "paddock: not copied (a device, FIFO or socket): %s\n", sandbox.Printable(s))
			}
			if rep.SkippedMore > 0 {
				fmt.Fprintf(f.IO.Err, "paddock: and %s more not copied\n", plural(rep.SkippedMore, "device, FIFO or socket"))
			}
			if src == "-" {
				fmt.Fprintf(f.IO.Err, "paddock: extracted a tar stream of %s into %s\n", humanSize(rep.Bytes), args[1])
			} else {
				fmt.Fprintf(f.IO.Err, "paddock: copied %s (%s) to %s\n", plural(rep.Files, "file"), humanSize(rep.Bytes), args[1])
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&o.Archive, "archive", "a", false, "keep owners (numeric user and group ids)")
	cmd.Flags().BoolVarP(&o.Follow, "follow-link", "L", false, "copy what a symlink given as SRC points to")
	return cmd
}
