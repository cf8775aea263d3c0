package tarcopy

import "fmt"

// budget keeps a copy from filling the disk it lands on: a sandbox decides how much its stream
// holds (a sparse file of a terabyte comes out as a terabyte of zeros), so an extraction stops
// before it would leave less than a twentieth of the filesystem's space or inodes free.
type budget struct {
	dest          string
	bytes, inodes int64 // what may still be used; negative: no bound known
}

func newBudget(dest string) *budget {
	b := &budget{dest: dest, bytes: -1, inodes: -1}
	if s, ok := freeSpace(dest); ok {
		b.bytes = s.availBytes - s.totalBytes/20
		if s.totalInodes > 0 { // some filesystems (btrfs) keep no inode count
			b.inodes = s.freeInodes - s.totalInodes/20
		}
	}
	return b
}

type space struct {
	availBytes, totalBytes, freeInodes, totalInodes int64
}

// take accounts one entry of size bytes, or says why it does not fit.
func (b *budget) take(name string, size int64) error {
	if b.bytes >= 0 {
		if size > b.bytes {
			return fmt.Errorf("%s (%s) would fill the disk %s is on (%s left to use): free some space or copy less", name, mib(size), b.dest, mib(max(b.bytes, 0)))
		}
		b.bytes -= size
	}
	if b.inodes >= 0 {
		if b.inodes < 1 {
			return fmt.Errorf("%s: the copy would use up the inodes of the disk %s is on; free some or copy less", name, b.dest)
		}
		b.inodes--
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
