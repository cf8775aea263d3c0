// Package memtrim keeps a long-lived, mostly idle paddock process (a sandbox's supervisor or
// init) small: it drops the process's mappings of its own executable code, which the kernel
// faults back in from the page cache when the code runs again. Only the read-only, executable
// mappings of the binary are touched; they are never written, so nothing is lost.
package memtrim

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type span struct{ start, end uintptr }

// textSpans finds the read-only mappings of the running binary: its code, and, when the binary
// is static (no dynamic loader, hence no relocated read-only data), its read-only data too.
func textSpans() []span {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out, ro []span
	static := true
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && strings.Contains(fields[5], "/ld-linux") {
			static = false
		}
		if len(fields) < 6 || fields[5] != exe || (fields[1] != "r-xp" && fields[1] != "r--p") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		if fields[1] == "r-xp" {
			out = append(out, span{uintptr(a), uintptr(b)})
		} else {
			ro = append(ro, span{uintptr(a), uintptr(b)})
		}
	}
	if static {
		out = append(out, ro...)
	}
	return out
}

// Keep trims now and then every interval, for the life of the process.
func Keep(interval time.Duration) {
	spans := textSpans()
	if len(spans) == 0 {
		return
	}
	trim := func() {
		for _, s := range spans {
			unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_DONTNEED)
		}
	}
	trim()
	go func() {
		for range time.Tick(interval) {
			trim()
		}
	}()
}
