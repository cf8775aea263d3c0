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

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// layerSource is one layer to unpack.
type layerSource struct {
	diffID    string // expected sha256 of the uncompressed tar; "" when unknown (rootfs imports)
	digest    string // of the blob as the source holds it
	size      int64  // of that blob (for progress)
	mediaType string
	// open returns the blob: gzip, zstd or plain tar (detected from its first bytes).
	open func() (io.ReadCloser, error)
}

// decompress returns the tar stream of a blob, whatever its compression.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrBadLayer, err)
		}
		return zr, func() { zr.Close() }, nil
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: zstd: %v", ErrBadLayer, err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
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
func (s *Store) installLayers(ctx context.Context, srcs []layerSource, p *progress) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ids := make([]string, len(srcs))
	errs := make([]error, len(srcs))
	bars := make([]*bar, len(srcs))
	for i, src := range srcs {
		label := shortDigest(src.digest)
		if label == "" {
			label = "rootfs"
		}
		bars[i] = p.bar(label, src.size)
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
			return nil, fmt.Errorf("layer %s: %w", shortDigest(srcs[i].digest), err)
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
func (s *Store) installLayer(ctx context.Context, src layerSource, b *bar) (string, error) {
	if src.diffID != "" {
		if _, err := os.Stat(filepath.Join(s.layerDir(src.diffID), "layer.json")); err == nil {
			b.finish("already present")
			return src.diffID, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(s.flavourDir(), ".tmp-")
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
	rc, err := src.open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	er := &errReader{r: io.TeeReader(ctxReader{ctx, rc}, b)}
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
	if src.diffID != "" && diffID != src.diffID {
		return "", fmt.Errorf("%w: its content does not match its diffID (%s, expected %s)", ErrBadLayer, shortDigest(diffID), shortDigest(src.diffID))
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
	syncDir(s.flavourDir())
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
