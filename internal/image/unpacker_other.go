//go:build !linux

package image

import (
	"context"
	"errors"
	"io"
	"os"
)

// HelperCommand is the hidden command that unpacks layers in a user namespace (Linux only).
const HelperCommand = "__image"

var errNeedsLinux = errors.New("unpacking image layers needs Linux")

type unpacker interface {
	unpack(r io.Reader, dest string) (LayerInfo, error)
	remove(paths ...string) error
}

type otherUnpacker struct{}

func newUnpacker(Flavour) unpacker { return otherUnpacker{} }

func (otherUnpacker) unpack(io.Reader, string) (LayerInfo, error) { return LayerInfo{}, errNeedsLinux }

func (otherUnpacker) remove(paths ...string) error {
	for _, p := range paths {
		os.RemoveAll(p)
	}
	return nil
}

// CurrentFlavour is root mode's mapping; layers cannot be unpacked on this system anyway.
func CurrentFlavour() Flavour { return rootFlavour(1<<30, 65536) }

// HelperMain is the hidden command (Linux only).
func HelperMain([]string) int { return 1 }

// ForUser is img itself: layers are unpacked only on Linux.
func (s *Store) ForUser(_ context.Context, img *Image, _, _ int, _ io.Writer) (*Image, error) {
	return img, nil
}
