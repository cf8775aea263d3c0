package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// LayerSource is one layer to unpack.
type LayerSource struct {
	DiffID    string // expected sha256 of the uncompressed tar; "" when unknown (rootfs imports)
	Digest    string // of the blob as the source holds it
	Size      int64  // of that blob (for progress)
	MediaType string
	// Open returns the blob as the source holds it.
	Open func() (io.ReadCloser, error)
	// Decompress returns the tar stream of the blob (nil: the blob is a plain tar).
	Decompress func(io.Reader) (io.Reader, func(), error)
}

// errReader remembers the first error of the source, so a broken download is reported as such
// and not as the truncated tar it causes.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// installLayers unpacks the layers not yet in the cache, three at a time. It returns their
// diffIDs in order (computed for sources that had none).
func (s *Store) installLayers(ctx context.Context, srcs []LayerSource, p *Progress) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ids := make([]string, len(srcs))
	errs := make([]error, len(srcs))
	bars := make([]*bar, len(srcs))
	for i, src := range srcs {
		label := shortDigest(src.Digest)
		if label == "" {
			label = "rootfs"
		}
		bars[i] = p.bar(label, src.Size)
	}
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			ids[i], errs[i] = s.installLayer(ctx, src, bars[i])
			if errs[i] != nil {
				bars[i].finish("failed")
				cancel()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("layer %s: %w", shortDigest(srcs[i].Digest), err)
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// installLayer makes one layer present in the cache: unpacked into a temporary folder, synced,
// checked against its diffID, then renamed into place, so it is there complete or not at all.
func (s *Store) installLayer(ctx context.Context, src LayerSource, b *bar) (string, error) {
	if src.DiffID != "" {
		if _, err := os.Stat(filepath.Join(s.layerDir(src.DiffID), "layer.json")); err == nil {
			b.finish("already present")
			return src.DiffID, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(s.FlavourDir(), ".tmp-")
	if err != nil {
		return "", fsErr(err)
	}
	ok := false
	defer func() {
		if !ok {
			s.discard(tmp)
		}
	}()
	b.set("downloading")
	rc, err := src.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	er := &errReader{r: io.TeeReader(ctxReader{ctx, rc}, b)}
	decompress := src.Decompress
	if decompress == nil {
		decompress = func(r io.Reader) (io.Reader, func(), error) { return bufio.NewReaderSize(r, 64<<10), func() {}, nil }
	}
	tr, closeTar, err := decompress(er)
	if err != nil {
		if er.err != nil {
			return "", er.err
		}
		return "", err
	}
	defer closeTar()
	h := sha256.New()
	info, err := s.unpacker.unpack(io.TeeReader(tr, h), filepath.Join(tmp, "fs"))
	if err == nil {
		// Read the blob to its end: a registry blob's digest is checked there.
		io.Copy(io.Discard, er)
	}
	if er.err != nil {
		return "", classifyStream(er.err)
	}
	if err != nil {
		return "", err
	}
	diffID := digestOf(h)
	if src.DiffID != "" && diffID != src.DiffID {
		return "", fmt.Errorf("%w: its content does not match its diffID (%s, expected %s)", ErrBadLayer, shortDigest(diffID), shortDigest(src.DiffID))
	}
	info.DiffID = diffID
	lj, _ := json.MarshalIndent(info, "", "  ")
	if err := writeFileSync(filepath.Join(tmp, "layer.json"), append(lj, '\n')); err != nil {
		return "", err
	}
	final := s.layerDir(diffID)
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, "layer.json")); serr == nil {
			// Another paddock unpacked it meanwhile: keep theirs.
			b.finish("already present")
			return diffID, nil
		}
		return "", fmt.Errorf("moving the layer into place: %w", fsErr(err))
	}
	ok = true
	syncDir(s.FlavourDir())
	b.finish(fmt.Sprintf("done (%s on disk)", humanBytes(info.DiskSize)))
	return diffID, nil
}

// discard removes a temporary or obsolete layer folder (in the namespace that owns its files).
func (s *Store) discard(paths ...string) {
	if len(paths) > 0 {
		s.unpacker.remove(paths...)
	}
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// ctxReader stops reading when the context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// classifyStream names a failure of the blob stream itself.
func classifyStream(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the download ended early (%v)", ErrBadLayer, err)
	}
	return fmt.Errorf("%w: %v", ErrBadLayer, err)
}

// Commit unpacks the layers of a new template and records it as rec.Ref (replacing what that
// reference named), under the shared GC lock. Layers already in the cache are not unpacked again.
func (s *Store) Commit(ctx context.Context, rec *Record, srcs []LayerSource, p *Progress) (*Record, error) {
	unlock, err := s.lockGC(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids, err := s.installLayers(ctx, srcs, p)
	if err != nil {
		return nil, err
	}
	for i := range rec.Layers {
		rec.Layers[i].DiffID = ids[i]
		if rec.Layers[i].Digest == "" {
			rec.Layers[i].Digest = ids[i]
		}
	}
	if rec.ID == "" {
		rec.ID = syntheticID(rec)
		rec.Digest = rec.ID
	}
	if err := s.updateIndex(func(idx *index) error { idx.Images[rec.Ref] = rec; return nil }); err != nil {
		return nil, err
	}
	var total int64
	for _, l := range rec.Layers {
		li, _ := s.layerInfo(l.DiffID)
		total += li.DiskSize
	}
	p.Line("%s: %s (%d layers, %s on disk)", Familiar(rec.Ref), rec.Digest, len(rec.Layers), humanBytes(total))
	return rec, nil
}

// syntheticID is the ID of an image paddock assembled itself (a rootfs import): the digest of a
// config that names its layers, platform and settings.
func syntheticID(rec *Record) string {
	var diffIDs []string
	for _, l := range rec.Layers {
		diffIDs = append(diffIDs, l.DiffID)
	}
	b, _ := json.Marshal(struct {
		Platform string   `json:"platform"`
		DiffIDs  []string `json:"diff_ids"`
		Config   Config   `json:"config"`
	}{rec.Platform, diffIDs, rec.Config})
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
