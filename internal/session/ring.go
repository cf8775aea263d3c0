package session

// ring keeps the last bytes a session printed (its scrollback), up to a fixed size; it grows as
// output comes, so an idle session with little output costs little.
type ring struct {
	buf   []byte
	start int // where the oldest byte is, once the buffer is full
	full  bool
	max   int
	total int64 // every byte ever written
}

func newRing(max int) *ring { return &ring{max: max} }

func (r *ring) Write(p []byte) {
	r.total += int64(len(p))
	if len(p) >= r.max {
		r.buf = append(r.buf[:0], p[len(p)-r.max:]...)
		r.start, r.full = 0, true
		return
	}
	if !r.full {
		if len(r.buf)+len(p) <= r.max {
			r.buf = append(r.buf, p...)
			return
		}
		// Becomes full: grow to max, then wrap.
		n := r.max - len(r.buf)
		r.buf = append(r.buf, p[:n]...)
		p = p[n:]
		r.full, r.start = true, 0
	}
	for len(p) > 0 {
		n := copy(r.buf[r.start:], p)
		p = p[n:]
		r.start = (r.start + n) % r.max
	}
}

// Bytes is the scrollback, oldest first (a copy).
func (r *ring) Bytes() []byte {
	if !r.full {
		return append([]byte(nil), r.buf...)
	}
	out := make([]byte, 0, r.max)
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// tailLines is the end of b holding its last n lines (all of b when n < 0).
func tailLines(b []byte, n int) []byte {
	if n < 0 {
		return b
	}
	if n == 0 {
		return nil
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
