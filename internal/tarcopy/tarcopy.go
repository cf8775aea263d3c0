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
	Files   int   // regular files, links and folders written
	Bytes   int64 // content of the regular files
	Skipped []string
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
			if st, err := root.Lstat(name); err == nil && !st.IsDir() {
				if err := root.Remove(name); err != nil {
					return rep, err
				}
			}
			if err := root.MkdirAll(name, 0o700); err != nil {
				return rep, err
			}
			dirs = append(dirs, dirMeta{name, h.FileInfo().Mode() & permMask, h.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			if err := replaceable(root, name); err != nil {
				return rep, err
			}
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
			if err := root.Symlink(h.Linkname, name); err != nil {
				return rep, err
			}
		case tar.TypeLink:
			target, ok := entryName(h.Linkname, o.From, o.Top)
			if !ok || target == "." {
				return rep, fmt.Errorf("the copy holds a link outside its folder: %q", truncate(h.Linkname))
			}
			if err := replaceable(root, name); err != nil {
				return rep, err
			}
			if err := root.Link(target, name); err != nil {
				return rep, err
			}
		default:
			// Devices, FIFOs, sockets: not made on the host.
			rep.Skipped = append(rep.Skipped, name)
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

// WriteOptions shape a stream made from a host path.
type WriteOptions struct {
	// Follow copies what a symlink given as the source points to, rather than the link.
	Follow bool
	// Owners keeps the files' owners (numeric); otherwise the stream's files belong to root.
	Owners bool
	// Contents writes the folder's entries at the top ("." is the folder itself).
	Contents bool
}

// Write writes the file or folder src as a tar stream to w, its top entry named name.
func Write(w io.Writer, src, name string, o WriteOptions) (Report, error) {
	var rep Report
	stat := os.Lstat
	if o.Follow {
		stat = os.Stat
	}
	top, err := stat(src)
	if err != nil {
		return rep, err
	}
	tw := tar.NewWriter(w)
	add := func(p, arc string, info fs.FileInfo) error {
		link := ""
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		case info.Mode().IsDir(), info.Mode().IsRegular():
		default:
			rep.Skipped = append(rep.Skipped, p)
			return nil
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(arc)
		if info.IsDir() {
			h.Name += "/"
		}
		h.Mode &^= 0o6000
		h.Uname, h.Gname = "", ""
		if !o.Owners {
			h.Uid, h.Gid = 0, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		rep.Files++
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := openNoFollow(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.CopyN(tw, f, info.Size())
		rep.Bytes += n
		return err
	}
	if !top.IsDir() {
		if err := add(src, name, top); err != nil {
			return rep, err
		}
		return rep, tw.Close()
	}
	base := name
	if o.Contents {
		base = "."
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		info := top
		if p != src {
			if info, err = d.Info(); err != nil {
				return err
			}
		}
		return add(p, filepath.Join(base, rel), info)
	})
	if err != nil {
		return rep, err
	}
	return rep, tw.Close()
}
