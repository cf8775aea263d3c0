// Package tarcopy moves files between the host and a sandbox as a tar stream (paddock cp): Write
// makes one from a host path the user named, Extract writes one below a host folder. A stream from
// a sandbox is hostile input: Extract never writes outside its folder (every step goes through an
// os.Root, so a symlink or ".." in the stream, or a folder swapped for a symlink while it runs,
// cannot lead out), makes no device nodes and no setuid or setgid files.
package tarcopy

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Report says what a copy did.
type Report struct {
	Files       int      // regular files, links and folders written
	Bytes       int64    // content of the regular files
	Skipped     []string // devices, FIFOs and sockets not copied (the first MaxSkipped)
	SkippedMore int      // how many more were not copied
}

// MaxSkipped bounds the names a Report keeps of what it did not copy.
const MaxSkipped = 20

func (r *Report) skip(name string) {
	if len(r.Skipped) < MaxSkipped {
		r.Skipped = append(r.Skipped, name)
	} else {
		r.SkippedMore++
	}
}

// ExtractOptions shape an extraction.
type ExtractOptions struct {
	// From is the stream's top-level entry (the copied file or folder; "." for a folder's
	// contents): every entry must be it or below it. Top renames it ("": as in the stream).
	From, Top string
	// Owners keeps the stream's owners (numeric); otherwise files belong to the caller.
	Owners bool
}

// permMask are the mode bits a copied file keeps: no setuid, setgid (a sandbox's file must not
// become a privilege on the host).
const permMask = fs.ModePerm | fs.ModeSticky

// Extract writes the tar stream r below the folder dest and returns what it wrote.
func Extract(r io.Reader, dest string, o ExtractOptions) (Report, error) {
	var rep Report
	root, err := os.OpenRoot(dest)
	if err != nil {
		return rep, err
	}
	defer root.Close()
	type dirMeta struct {
		name  string
		mode  fs.FileMode
		mtime time.Time
	}
	var dirs []dirMeta
	// What this extraction made: a hard link may only join a file it wrote, and only a folder
	// it made gets the stream's mode (a folder already there keeps the user's).
	wrote := map[string]bool{}
	budget := newBudget(dest)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("reading the copy: %w", err)
		}
		name, ok := entryName(h.Name, o.From, o.Top)
		if !ok {
			return rep, fmt.Errorf("the copy holds an entry outside its folder: %q", truncate(h.Name))
		}
		if name == "." {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			st, err := root.Lstat(name)
			if err == nil && st.IsDir() {
				break // already there: written into, left as it is
			}
			if err == nil {
				if err := root.Remove(name); err != nil {
					return rep, err
				}
			}
			if err := budget.take(name, 0); err != nil {
				return rep, err
			}
			if err := root.MkdirAll(name, 0o700); err != nil {
				return rep, err
			}
			dirs = append(dirs, dirMeta{name, h.FileInfo().Mode() & permMask, h.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			if err := replaceable(root, name); err != nil {
				return rep, err
			}
			if err := budget.take(name, h.Size); err != nil {
				return rep, err
			}
			wrote[name] = true
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return rep, err
			}
			n, err := io.Copy(f, tr)
			if err == nil {
				err = f.Chmod(h.FileInfo().Mode() & permMask)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return rep, fmt.Errorf("writing %s: %w", name, err)
			}
			rep.Bytes += n
			if err := root.Chtimes(name, h.ModTime, h.ModTime); err != nil {
				return rep, err
			}
		case tar.TypeSymlink:
			if err := replaceable(root, name); err != nil {
				return rep, err
			}
			if err := budget.take(name, 0); err != nil {
				return rep, err
			}
			delete(wrote, name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return rep, err
			}
		case tar.TypeLink:
			target, ok := entryName(h.Linkname, o.From, o.Top)
			if !ok || target == "." {
				return rep, fmt.Errorf("the copy holds a link outside its folder: %q", truncate(h.Linkname))
			}
			if !wrote[target] {
				return rep, fmt.Errorf("the copy holds a link to a file it did not bring: %q", truncate(h.Linkname))
			}
			if err := replaceable(root, name); err != nil {
				return rep, err
			}
			if err := root.Link(target, name); err != nil {
				return rep, err
			}
		default:
			// Devices, FIFOs, sockets: not made on the host.
			rep.skip(name)
			continue
		}
		if o.Owners {
			if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
				return rep, fmt.Errorf("keeping the owner of %s: %w", name, err)
			}
		}
		rep.Files++
	}
	// Folders last, deepest first: their modes may forbid writing into them. The folder the
	// copy lands in keeps its own.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := root.Chmod(d.name, d.mode); err != nil {
			return rep, err
		}
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// replaceable removes what stands at name unless it is a folder (a file is replaced, as cp does;
// a folder is not silently turned into a file).
func replaceable(root *os.Root, name string) error {
	st, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a folder", name)
	}
	return root.Remove(name)
}

// entryName cleans a stream's entry name into a relative path below the folder, with its first
// element (from) renamed to top; false for one that is absolute, leads out or is not below from.
func entryName(name, from, top string) (string, bool) {
	if strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", false
	}
	n := path.Clean(name)
	if n == ".." || strings.HasPrefix(n, "../") {
		return "", false
	}
	if from != "" && from != "." {
		first, rest, _ := strings.Cut(n, "/")
		if first != from {
			return "", false
		}
		if top != "" {
			n = path.Join(top, rest)
		}
	}
	return filepath.FromSlash(n), true
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Filter passes the tar stream r to w as a new stream of the entries Extract would write (names
// below From, renamed to Top; no devices, FIFOs or sockets; no setuid or setgid bits; hard links
// only to files the stream brought), for a reader that extracts it itself (paddock cp to stdout).
func Filter(r io.Reader, w io.Writer, o ExtractOptions) (Report, error) {
	var rep Report
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	brought := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("reading the copy: %w", err)
		}
		name, ok := entryName(h.Name, o.From, o.Top)
		if !ok {
			return rep, fmt.Errorf("the copy holds an entry outside its folder: %q", truncate(h.Name))
		}
		out := &tar.Header{Name: filepath.ToSlash(name), Typeflag: h.Typeflag, Mode: h.Mode & int64(permMask), ModTime: h.ModTime,
			Format: tar.FormatPAX}
		if o.Owners {
			out.Uid, out.Gid = h.Uid, h.Gid
		}
		switch h.Typeflag {
		case tar.TypeDir:
			out.Name += "/"
		case tar.TypeReg, tar.TypeRegA:
			out.Typeflag, out.Size = tar.TypeReg, h.Size
			brought[name] = true
		case tar.TypeSymlink:
			out.Linkname = h.Linkname
		case tar.TypeLink:
			target, ok := entryName(h.Linkname, o.From, o.Top)
			if !ok || !brought[target] {
				return rep, fmt.Errorf("the copy holds a link to a file it did not bring: %q", truncate(h.Linkname))
			}
			out.Linkname = filepath.ToSlash(target)
		default:
			rep.skip(name)
			continue
		}
		if err := tw.WriteHeader(out); err != nil {
			return rep, err
		}
		if out.Typeflag == tar.TypeReg {
			n, err := io.Copy(tw, tr)
			rep.Bytes += n
			if err != nil {
				return rep, err
			}
		}
		rep.Files++
	}
	return rep, tw.Close()
}
