package session

// ring keeps the last bytes a session printed (its scrollback), about max of them: chunks of
// ringChunk bytes, allocated as output comes (an idle session with little output costs little)
// and reused once there are enough (a full scrollback leaves no garbage behind).
type ring struct {
	chunks [][]byte
	max    int
	total  int64 // every byte ever written
}

const ringChunk = 64 << 10

func newRing(max int) *ring { return &ring{max: max} }

func (r *ring) Write(p []byte) {
	r.total += int64(len(p))
	for len(p) > 0 {
		last := len(r.chunks) - 1
		if last < 0 || len(r.chunks[last]) == cap(r.chunks[last]) {
			var c []byte
			if len(r.chunks)*ringChunk >= r.max+ringChunk {
				c = r.chunks[0][:0] // the oldest chunk's bytes go; its memory is reused
				r.chunks = append(r.chunks[:0], r.chunks[1:]...)
			} else {
				c = make([]byte, 0, ringChunk)
			}
			r.chunks = append(r.chunks, c)
			last = len(r.chunks) - 1
		}
		c := r.chunks[last]
		n := min(cap(c)-len(c), len(p))
		r.chunks[last] = append(c, p[:n]...)
		p = p[n:]
	}
}

// Bytes is the scrollback, oldest first (a copy): at least the last max bytes written, when
// there were that many.
func (r *ring) Bytes() []byte {
	n := 0
	for _, c := range r.chunks {
		n += len(c)
	}
	out := make([]byte, 0, n)
	for _, c := range r.chunks {
		out = append(out, c...)
	}
	return out
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
