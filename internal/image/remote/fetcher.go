// Package remote fills paddock's template cache (internal/image) from registries, image archives
// and the local Docker engine. It links the registry client (go-containerregistry) and the
// compression libraries, so only the paddock-oci binary carries it: see image.Fetcher.
package remote

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/paddockhq/paddock/internal/image"
)

// Fetcher is the image.Fetcher of this package.
type Fetcher struct{}

func (Fetcher) Pull(ctx context.Context, s *image.Store, ref string, progress io.Writer) (*image.Image, error) {
	return pull(ctx, s, ref, progress)
}

func (Fetcher) Import(ctx context.Context, s *image.Store, src, name string, progress io.Writer) (*image.Image, error) {
	return importImage(ctx, s, src, name, progress)
}

// decompress returns the tar stream of a blob, whatever its compression.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %v", image.ErrBadLayer, err)
		}
		return zr, func() { zr.Close() }, nil
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: zstd: %v", image.ErrBadLayer, err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}
