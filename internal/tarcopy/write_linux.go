//go:build linux

package tarcopy

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Write writes the file or folder src as a tar stream to w, its top entry named name.
//
// The folder may be one a sandbox can write to (its workspace), and a sandbox can swap anything
// in it while the copy runs: the walk goes by descriptor (openat from the folder it came from,
// never following a symlink, a folder opened with O_DIRECTORY), each file is opened without
// blocking (a FIFO put in a file's place is skipped, not waited on) and described by what was
// opened, not by an earlier look at its path. A file that changes while it is copied fails the
// copy. Only src itself may be a symlink that is followed, and only with o.Follow.
func Write(w io.Writer, src, name string, o WriteOptions) (Report, error) {
	wr := &writer{tw: tar.NewWriter(w), o: o}
	var fd int
	var err error
	if o.Follow {
		fd, err = unix.Open(src, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	} else {
		dir, base := filepath.Split(filepath.Clean(src))
		if dir == "" {
			dir = "."
		}
		pfd, perr := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if perr != nil {
			return wr.rep, &os.PathError{Op: "open", Path: dir, Err: perr}
		}
		defer unix.Close(pfd)
		if base == "" || base == "/" { // src is "/"
			fd, err = unix.Dup(pfd)
		} else {
			var st unix.Stat_t
			if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return wr.rep, &os.PathError{Op: "lstat", Path: src, Err: err}
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				if err := wr.symlink(pfd, base, name, &st); err != nil {
					return wr.rep, err
				}
				return wr.rep, wr.tw.Close()
			}
			fd, err = unix.Openat(pfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		}
	}
	if err != nil {
		return wr.rep, &os.PathError{Op: "open", Path: src, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return wr.rep, err
	}
	arc := name
	if o.Contents {
		arc = "."
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = wr.dir(fd, src, arc, &st)
	case unix.S_IFREG:
		err = wr.file(fd, src, name, &st)
	default:
		unix.Close(fd)
		wr.rep.skip(src)
	}
	if err != nil {
		return wr.rep, err
	}
	return wr.rep, wr.tw.Close()
}

type writer struct {
	tw  *tar.Writer
	o   WriteOptions
	rep Report
}

// header is the tar header for what st describes, named arc.
func (wr *writer) header(arc string, st *unix.Stat_t, typ byte) *tar.Header {
	h := &tar.Header{
		Typeflag: typ,
		Name:     filepath.ToSlash(arc),
		Mode:     int64(st.Mode) & 0o1777, // no setuid, no setgid
		ModTime:  time.Unix(st.Mtim.Unix()),
		Format:   tar.FormatPAX,
	}
	if typ == tar.TypeDir {
		h.Name += "/"
	}
	if wr.o.Owners {
		h.Uid, h.Gid = int(st.Uid), int(st.Gid)
	}
	return h
}

func (wr *writer) symlink(dirfd int, base, arc string, st *unix.Stat_t) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, base, buf)
	if err != nil {
		return &os.PathError{Op: "readlink", Path: arc, Err: err}
	}
	h := wr.header(arc, st, tar.TypeSymlink)
	h.Linkname = string(buf[:n])
	wr.rep.Files++
	return wr.tw.WriteHeader(h)
}

// file writes the regular file open at fd (closed on return), exactly as long as it was when
// opened: one that shrinks meanwhile fails the copy.
func (wr *writer) file(fd int, p, arc string, st *unix.Stat_t) error {
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	h := wr.header(arc, st, tar.TypeReg)
	h.Size = st.Size
	if err := wr.tw.WriteHeader(h); err != nil {
		return err
	}
	wr.rep.Files++
	n, err := io.CopyN(wr.tw, f, st.Size)
	wr.rep.Bytes += n
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s changed while it was copied", p)
	}
	return err
}

// dir writes the folder open at fd (closed on return) and everything below it.
func (wr *writer) dir(fd int, p, arc string, st *unix.Stat_t) error {
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	if err := wr.tw.WriteHeader(wr.header(arc, st, tar.TypeDir)); err != nil {
		return err
	}
	wr.rep.Files++
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		cp, carc := filepath.Join(p, n), path.Join(filepath.ToSlash(arc), n)
		var cst unix.Stat_t
		if err := unix.Fstatat(fd, n, &cst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // gone since the folder was read
			}
			return &os.PathError{Op: "lstat", Path: cp, Err: err}
		}
		switch cst.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			err = wr.symlink(fd, n, carc, &cst)
		case unix.S_IFDIR:
			err = wr.open(fd, n, cp, carc, unix.O_DIRECTORY, wr.dir)
		case unix.S_IFREG:
			err = wr.open(fd, n, cp, carc, 0, wr.file)
		default:
			wr.rep.skip(cp)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// open opens name below dirfd without following a symlink or blocking, and hands it to write
// when it is still the kind of file it was (a FIFO swapped in is skipped).
func (wr *writer) open(dirfd int, name, p, arc string, flags int, write func(int, string, string, *unix.Stat_t) error) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY|flags, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("%s changed while it was copied (now a symlink or a file)", p)
	}
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return err
	}
	kind := st.Mode & unix.S_IFMT
	if kind != unix.S_IFDIR && kind != unix.S_IFREG {
		unix.Close(fd)
		wr.rep.skip(p)
		return nil
	}
	if (flags&unix.O_DIRECTORY != 0) != (kind == unix.S_IFDIR) {
		unix.Close(fd)
		return fmt.Errorf("%s changed while it was copied", p)
	}
	return write(fd, p, arc, &st)
}
