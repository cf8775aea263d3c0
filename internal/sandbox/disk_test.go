package sandbox

import (
	"errors"
	"testing"
)

func TestParseDisk(t *testing.T) {
	for _, c := range []struct {
		in            string
		bytes, inodes int64
		bad           bool
	}{
		{in: "20g", bytes: 20 << 30, inodes: 20 << 30 / (16 << 10)},
		{in: "64m", bytes: 64 << 20, inodes: 4096},
		{in: "1G,inodes=1m", bytes: 1 << 30, inodes: 1000000},
		{in: "1g,inodes=2k", bytes: 1 << 30, inodes: 2000},
		{in: "1g,inodes=5000", bytes: 1 << 30, inodes: 5000},
		{in: "none"}, {in: "0"},
		{in: "lots", bad: true}, {in: "1k", bad: true}, {in: "1g,inodes=", bad: true},
		{in: "1g,files=3", bad: true}, {in: "64m,inodes=10", bad: true}, {in: "1g,inodes=-1", bad: true},
		{in: "1g,inodes=99999999m", bad: true},
	} {
		b, i, err := ParseDisk(c.in)
		if c.bad {
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("ParseDisk(%q) = %d, %d, %v; want bad input", c.in, b, i, err)
			}
			continue
		}
		if err != nil || b != c.bytes || i != c.inodes {
			t.Errorf("ParseDisk(%q) = %d, %d, %v; want %d, %d", c.in, b, i, err, c.bytes, c.inodes)
		}
	}
}
