package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ForUser returns img with its layers in the flavour where the image's user uid:gid is the
// calling user (Flavour.ForUser): rootless sandboxes of images with a non-root USER need it so
// that the workspace and volumes, owned by the user, are that user's inside. Layers missing in
// that flavour are made from this flavour's copy: written back as a layer tar by a helper in
// this flavour's user namespace and unpacked by the usual extractor in the other one. img is
// returned as it is where no other flavour applies (root mode, no subordinate ids, root).
func (s *Store) ForUser(ctx context.Context, img *Image, uid, gid int, progress io.Writer) (*Image, error) {
	f := s.Flavour.ForUser(uid, gid)
	if f.Name == s.Flavour.Name {
		return img, nil
	}
	other, err := OpenFlavour(filepath.Dir(s.Root), f)
	if err != nil {
		return nil, err
	}
	unlock, err := other.lockGC(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := *img
	out.LayerDirs, out.Flavour = nil, f
	for _, d := range img.LayerDirs {
		diffID := "sha256:" + filepath.Base(filepath.Dir(d))
		dst := other.layerDir(diffID)
		if _, err := os.Stat(filepath.Join(dst, "layer.json")); err != nil {
			if progress != nil {
				fmt.Fprintf(progress, "%s: preparing layer %s for user %d\n", img.Ref, shortDigest(diffID), uid)
			}
			if err := s.reflavour(ctx, other, diffID); err != nil {
				return nil, fmt.Errorf("preparing layer %s for the image's user %d: %w", shortDigest(diffID), uid, err)
			}
		}
		out.LayerDirs = append(out.LayerDirs, filepath.Join(dst, "fs"))
	}
	return &out, nil
}

// reflavour makes layer diffID of s present in other's cache.
func (s *Store) reflavour(ctx context.Context, other *Store, diffID string) error {
	src := s.layerDir(diffID)
	var info LayerInfo
	if b, err := os.ReadFile(filepath.Join(src, "layer.json")); err != nil || json.Unmarshal(b, &info) != nil {
		return fmt.Errorf("layer %s is not in the cache (%v)", shortDigest(diffID), err)
	}
	tmp, err := os.MkdirTemp(other.FlavourDir(), ".tmp-")
	if err != nil {
		return fsErr(err)
	}
	ok := false
	defer func() {
		if !ok {
			other.discard(tmp)
		}
	}()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	writer, ok1 := s.unpacker.(userUnpacker)
	if !ok1 {
		pr.Close()
		pw.Close()
		return fmt.Errorf("layers are re-laid out only for rootless flavours")
	}
	cmd, errb := writer.command(nil, "tar", filepath.Join(src, "fs"))
	cmd.Stdout = pw
	if err := writer.start(cmd); err != nil {
		pr.Close()
		pw.Close()
		return err
	}
	pw.Close()
	got, uerr := other.unpacker.unpack(ctxReader{ctx, pr}, filepath.Join(tmp, "fs"))
	pr.Close()
	werr := cmd.Wait()
	if uerr != nil {
		return uerr
	}
	if werr != nil {
		return fmt.Errorf("reading the layer back: %v: %s", werr, strings.TrimSpace(errb.String()))
	}
	got.DiffID = diffID
	lj, _ := json.MarshalIndent(got, "", "  ")
	if err := writeFileSync(filepath.Join(tmp, "layer.json"), append(lj, '\n')); err != nil {
		return err
	}
	if err := os.Rename(tmp, other.layerDir(diffID)); err != nil {
		if _, serr := os.Stat(filepath.Join(other.layerDir(diffID), "layer.json")); serr == nil {
			return nil // another paddock made it meanwhile
		}
		return fsErr(err)
	}
	ok = true
	syncDir(other.FlavourDir())
	return nil
}

// writeLayerTar writes the unpacked layer at dir back as a layer tar: owners as this process
// sees them (in a flavour's user namespace: the image's ids), overlayfs whiteouts as .wh. names,
// opaque folders as .wh..wh..opq, user.* xattrs, hard links once.
func writeLayerTar(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			rel = "./"
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		h := &tar.Header{Name: rel, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
			ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec), Format: tar.FormatPAX}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			h.Typeflag = tar.TypeDir
			if rel != "./" {
				h.Name += "/"
			}
		case unix.S_IFREG:
			key := [2]uint64{st.Dev, st.Ino}
			if first, seen := links[key]; seen && st.Nlink > 1 {
				h.Typeflag, h.Linkname, h.Mode = tar.TypeLink, first, 0
				return tw.WriteHeader(h)
			}
			links[key] = rel
			h.Typeflag, h.Size = tar.TypeReg, st.Size
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, target
		case unix.S_IFCHR:
			if st.Rdev != 0 {
				return nil // the extractor never makes other devices
			}
			h.Typeflag, h.Name, h.Mode = tar.TypeReg, filepath.Join(filepath.Dir(rel), ".wh."+filepath.Base(rel)), 0
		default:
			return nil
		}
		opaque := false
		if names, err := listXattrs(p); err == nil {
			for _, n := range names {
				if n == "user.overlay.opaque" || n == "trusted.overlay.opaque" {
					opaque = true
				}
				if !strings.HasPrefix(n, "user.") || strings.HasPrefix(n, "user.overlay.") {
					continue
				}
				if v, err := getXattr(p, n); err == nil {
					if h.PAXRecords == nil {
						h.PAXRecords = map[string]string{}
					}
					h.PAXRecords["SCHILY.xattr."+n] = v
				}
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			// Found by lstat in a walk that never enters links; opened without following one
			// either (the layer is an image's: hostile content).
			f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
			if err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, h.Size)
			f.Close()
			if err != nil {
				return err
			}
		}
		if opaque && h.Typeflag == tar.TypeDir {
			return tw.WriteHeader(&tar.Header{Name: filepath.Join(rel, ".wh..wh..opq"), Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func listXattrs(p string) ([]string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func getXattr(p, name string) (string, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// command prepares the helper in this flavour's user namespace (started with start).
func (u userUnpacker) command(stdin io.Reader, args ...string) (*exec.Cmd, *strings.Builder) {
	cmd := exec.Command("/proc/self/exe", append([]string{HelperCommand}, args...)...)
	cmd.Args[0] = "paddock-image"
	cmd.Stdin = stdin
	errb := &strings.Builder{}
	cmd.Stderr = errb
	return cmd, errb
}
