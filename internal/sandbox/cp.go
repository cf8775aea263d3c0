package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/paddockhq/paddock/internal/store"
	"github.com/paddockhq/paddock/internal/tarcopy"
)

// CopyOptions shape paddock cp.
type CopyOptions struct {
	// Archive keeps owners (numeric ids): into the sandbox the host's, out of it the sandbox's.
	Archive bool
	// Follow copies what a symlink given as the source points to.
	Follow bool
	// Out receives the copy as a tar stream when the destination is "-" (CopyFrom); In is the
	// tar stream to extract when the source is "-" (CopyTo).
	Out io.Writer
	In  io.Reader
}

// CopyReport says what a copy did.
type CopyReport = tarcopy.Report

// The half of a copy that runs in the sandbox is its own tar, as root: paths resolve in the
// sandbox's mount namespace (a symlink there leads only to the sandbox's own files), and what
// comes out is extracted on the host by tarcopy, which never writes outside the destination.
const (
	// probeScript prints what a path is inside: dir, file (anything else that exists) or none,
	// and whether its parent folder exists.
	probeScript = `p=$1; if [ -d "$p" ] && { [ ! -L "$p" ] || [ "$2" = follow ]; }; then echo dir; elif [ -e "$p" ] || [ -L "$p" ]; then echo file; else echo none; fi; if [ -d "$(dirname -- "$p")" ]; then echo parent; fi`
)

// inside runs argv in rec's sandbox as root, with the given stdin and stdout, and returns its
// exit code and what it printed on stderr (bounded).
func (m *Manager) inside(ctx context.Context, rec *store.Record, argv []string, stdin, stdout *os.File) (int, string, error) {
	er, ew, err := os.Pipe()
	if err != nil {
		return -1, "", err
	}
	if stdout == nil {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return -1, "", err
		}
		defer null.Close()
		stdout = null
	}
	var errb bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&errb, io.LimitReader(er, 64<<10))
		io.Copy(io.Discard, er)
		er.Close()
		close(done)
	}()
	req := ExecRequest{Argv: argv, Dir: "/", User: "0", Stdin: stdin != nil}
	code, err := m.Exec(ctx, rec, req, Streams{Stdin: stdin, Stdout: stdout, Stderr: ew})
	ew.Close()
	<-done
	return code, strings.TrimSpace(errb.String()), err
}

// probe says what path is in rec's sandbox: "dir", "file" or "none", and whether its parent
// is a folder.
func (m *Manager) probe(ctx context.Context, rec *store.Record, p string, follow bool) (string, bool, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", false, err
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, io.LimitReader(r, 1024)); io.Copy(io.Discard, r); r.Close(); close(done) }()
	f := "nofollow"
	if follow {
		f = "follow"
	}
	code, stderr, err := m.inside(ctx, rec, []string{"/bin/sh", "-c", probeScript, "sh", p, f}, nil, w)
	w.Close()
	<-done
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", false, fmt.Errorf("paddock cp needs /bin/sh and tar in the sandbox: %w", err)
		}
		return "", false, err
	}
	if code != 0 {
		return "", false, fmt.Errorf("looking at %s in the sandbox: %s", p, OneLine(stderr))
	}
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return "", false, fmt.Errorf("looking at %s in the sandbox: no answer", p)
	}
	return lines[0], len(lines) > 1 && lines[1] == "parent", nil
}

// insidePath makes a path in the sandbox absolute: a relative one is below the workdir.
func insidePath(rec *store.Record, p string) string {
	if p == "" {
		p = "."
	}
	if !path.IsAbs(p) {
		p = path.Join(rec.Spec.Workdir, p)
	}
	return p
}

// contentsOf reports whether a source names a folder's contents (ends in "/."), and the
// source without that ending.
func contentsOf(p string) (string, bool) {
	if p == "/" || p == "." || strings.HasSuffix(p, "/.") {
		return path.Clean(p), true
	}
	return p, false
}

// CopyFrom copies src (a file or folder in rec's sandbox) to dest on the host, as docker cp
// does: into dest when it is a folder, as dest otherwise (its parent must exist); a source ending
// in "/." copies the folder's contents.
func (m *Manager) CopyFrom(ctx context.Context, rec *store.Record, src, dest string, o CopyOptions) (CopyReport, error) {
	var rep CopyReport
	if o.Archive && os.Geteuid() != 0 && dest != "-" {
		return rep, badInput("-a out of a sandbox needs root on the host (only root can give files to other users): copy without -a")
	}
	src, contents := contentsOf(src)
	src = insidePath(rec, src)
	kind, _, err := m.probe(ctx, rec, src, o.Follow)
	if err != nil {
		return rep, err
	}
	if kind == "none" {
		return rep, badInput("%s:%s: no such file or folder in the sandbox", rec.Name, src)
	}
	if contents && kind != "dir" {
		return rep, badInput("%s:%s/.: not a folder in the sandbox", rec.Name, src)
	}
	into, from, top := "", path.Base(src), ""
	st, err := os.Stat(dest)
	switch {
	case dest == "-":
		if o.Out == nil {
			return rep, badInput("-: nowhere to write the tar stream")
		}
	case err == nil && st.IsDir():
		into = dest
	case err == nil && kind == "dir":
		return rep, badInput("%s: cannot copy a folder onto a file", dest)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return rep, err
	default:
		parent := filepath.Dir(dest)
		if pst, err := os.Stat(parent); err != nil || !pst.IsDir() {
			return rep, badInput("%s: its folder %s does not exist", dest, parent)
		}
		into, top = parent, filepath.Base(dest)
		if contents {
			if err := os.Mkdir(dest, 0o755); err != nil {
				return rep, err
			}
			into, top = dest, ""
		}
	}
	argv := []string{"tar", "-C", path.Dir(src), "-cf", "-", "--", path.Base(src)}
	if contents {
		argv, from = []string{"tar", "-C", src, "-cf", "-", "."}, "."
	}
	if o.Follow {
		argv = append(argv[:1], append([]string{"-h"}, argv[1:]...)...)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return rep, err
	}
	type result struct {
		rep CopyReport
		err error
	}
	ch := make(chan result, 1)
	ctx, g := watchStall(ctx)
	defer g.stop()
	go func() {
		var rep CopyReport
		var err error
		if dest == "-" {
			// A stream for the caller's own tar: what Extract would write, as a new stream.
			rep, err = tarcopy.Filter(g.reader(r), o.Out, tarcopy.ExtractOptions{From: from, Owners: o.Archive})
		} else {
			rep, err = tarcopy.Extract(g.reader(r), into, tarcopy.ExtractOptions{From: from, Top: top, Owners: o.Archive})
		}
		if err != nil {
			r.Close() // the sandbox's tar stops on a broken pipe: nothing more is read
		} else {
			io.Copy(io.Discard, g.reader(r)) // the stream's end (padding)
		}
		ch <- result{rep, err}
	}()
	code, stderr, err := m.inside(ctx, rec, argv, nil, w)
	w.Close()
	res := await(g, ch, r)
	r.Close()
	if err := g.err(); err != nil {
		return res.rep, fmt.Errorf("copying %s:%s: %w", rec.Name, src, err)
	}
	if res.err != nil { // the cause: the sandbox's tar then fails on the pipe paddock closed
		return res.rep, fmt.Errorf("copying %s:%s to %s: %w", rec.Name, src, dest, res.err)
	}
	if err != nil {
		return res.rep, err
	}
	if code != 0 {
		return res.rep, fmt.Errorf("copying %s:%s: tar in the sandbox: %s", rec.Name, src, OneLine(stderr))
	}
	return res.rep, nil
}

// CopyTo copies src (a file or folder on the host) to dest in rec's sandbox, with the rules of
// CopyFrom.
func (m *Manager) CopyTo(ctx context.Context, rec *store.Record, src, dest string, o CopyOptions) (CopyReport, error) {
	var rep CopyReport
	if src == "-" {
		return m.copyStreamIn(ctx, rec, dest, o)
	}
	src, contents := contentsOf(src)
	stat := os.Lstat
	if o.Follow {
		stat = os.Stat
	}
	st, err := stat(src)
	if err != nil {
		return rep, badInput("%s: %v", src, errors.Unwrap(err))
	}
	if contents && !st.IsDir() {
		return rep, badInput("%s/.: not a folder", src)
	}
	dest = insidePath(rec, dest)
	kind, parent, err := m.probe(ctx, rec, dest, true)
	if err != nil {
		return rep, err
	}
	into, name := dest, filepath.Base(src)
	switch {
	case kind == "dir":
	case kind == "file" && st.IsDir():
		return rep, badInput("%s:%s: cannot copy a folder onto a file", rec.Name, dest)
	case !parent:
		return rep, badInput("%s:%s: its folder %s does not exist in the sandbox", rec.Name, dest, path.Dir(dest))
	default:
		into, name = path.Dir(dest), path.Base(dest)
		if contents {
			if code, stderr, err := m.inside(ctx, rec, []string{"mkdir", "--", dest}, nil, nil); err != nil || code != 0 {
				return rep, fmt.Errorf("making %s:%s: %v%s", rec.Name, dest, err, OneLine(stderr))
			}
			into = dest
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return rep, err
	}
	type result struct {
		rep CopyReport
		err error
	}
	ch := make(chan result, 1)
	ctx, g := watchStall(ctx)
	defer g.stop()
	go func() {
		rep, err := tarcopy.Write(g.writer(w), src, name, tarcopy.WriteOptions{Follow: o.Follow, Owners: o.Archive, Contents: contents})
		w.Close()
		ch <- result{rep, err}
	}()
	code, stderr, err := m.inside(ctx, rec, []string{"tar", "-C", into, "-xf", "-"}, r, nil)
	r.Close()
	res := await(g, ch, w)
	if err := g.err(); err != nil {
		return res.rep, fmt.Errorf("copying %s to %s:%s: %w", src, rec.Name, dest, err)
	}
	if err != nil {
		return res.rep, err
	}
	if res.err != nil {
		return res.rep, fmt.Errorf("copying %s: %w", src, res.err)
	}
	if code != 0 {
		return res.rep, fmt.Errorf("copying %s to %s:%s: tar in the sandbox: %s", src, rec.Name, dest, OneLine(stderr))
	}
	return res.rep, nil
}

// copyStreamIn extracts the tar stream o.In into the folder dest of rec's sandbox (paddock cp -
// NAME:DEST), with the sandbox's own tar: the stream is the caller's, the sandbox its to write.
func (m *Manager) copyStreamIn(ctx context.Context, rec *store.Record, dest string, o CopyOptions) (CopyReport, error) {
	var rep CopyReport
	if o.In == nil {
		return rep, badInput("-: no tar stream to read")
	}
	dest = insidePath(rec, dest)
	kind, _, err := m.probe(ctx, rec, dest, true)
	if err != nil {
		return rep, err
	}
	if kind != "dir" {
		return rep, badInput("%s:%s: a tar stream is extracted into a folder, and this is not one in the sandbox", rec.Name, dest)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return rep, err
	}
	ch := make(chan error, 1)
	ctx, g := watchStall(ctx)
	defer g.stop()
	go func() {
		n, err := io.Copy(g.writer(w), o.In)
		rep.Bytes = n
		w.Close()
		ch <- err
	}()
	argv := []string{"tar", "-C", dest, "-xf", "-"}
	if !o.Archive {
		argv = append(argv, "--no-same-owner")
	}
	code, stderr, err := m.inside(ctx, rec, argv, r, nil)
	r.Close()
	cerr := await(g, ch, w)
	if err := g.err(); err != nil {
		return rep, fmt.Errorf("copying to %s:%s: %w", rec.Name, dest, err)
	}
	if err != nil {
		return rep, err
	}
	if code != 0 {
		return rep, fmt.Errorf("copying to %s:%s: tar in the sandbox: %s", rec.Name, dest, OneLine(stderr))
	}
	if cerr != nil {
		return rep, fmt.Errorf("reading the tar stream: %w", cerr)
	}
	return rep, nil
}

// CopyBetween copies src in the sandbox from to dest in the sandbox to, through a private
// folder on the host (each side as CopyFrom and CopyTo would).
func (m *Manager) CopyBetween(ctx context.Context, from *store.Record, src string, to *store.Record, dest string, o CopyOptions) (CopyReport, error) {
	tmp, err := os.MkdirTemp("", "paddock-cp-")
	if err != nil {
		return CopyReport{}, err
	}
	defer os.RemoveAll(tmp)
	src, contents := contentsOf(src)
	base := path.Base(insidePath(from, src))
	if base == "/" || base == "." {
		base = "root"
	}
	stage := filepath.Join(tmp, base)
	if contents {
		src += "/."
	}
	if _, err := m.CopyFrom(ctx, from, src, stage, o); err != nil {
		return CopyReport{}, err
	}
	if contents {
		stage += "/."
	}
	return m.CopyTo(ctx, to, stage, dest, CopyOptions{Archive: o.Archive})
}
