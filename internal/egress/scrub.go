package egress

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// scrubber replaces each of a set of secrets (the forms of one key) by a mask of the same
// length, so that lengths stay right (Content-Length, WebSocket frames) and the key never
// reaches the sandbox in anything the service sends back.
type scrubber struct {
	pats, masks [][]byte
	max         int
}

func newScrubber(secret string, forms []string) *scrubber {
	s := &scrubber{}
	ph := Placeholder(secret)
	for _, f := range forms {
		if f == "" {
			continue
		}
		m := (ph + strings.Repeat("x", len(f)))[:len(f)]
		s.pats = append(s.pats, []byte(f))
		s.masks = append(s.masks, []byte(m))
		s.max = max(s.max, len(f))
	}
	return s
}

// bytes masks every whole occurrence in b, in place.
func (s *scrubber) bytes(b []byte) {
	for i, p := range s.pats {
		for off := 0; ; {
			j := bytes.Index(b[off:], p)
			if j < 0 {
				break
			}
			copy(b[off+j:], s.masks[i])
			off += j + len(p)
		}
	}
}

func (s *scrubber) string(v string) string {
	for _, p := range s.pats {
		if strings.Contains(v, string(p)) {
			b := []byte(v)
			s.bytes(b)
			return string(b)
		}
	}
	return v
}

func (s *scrubber) header(h http.Header) {
	for k, vs := range h {
		for i, v := range vs {
			vs[i] = s.string(v)
		}
		if c := s.string(k); c != k {
			delete(h, k)
			h[c] = vs
		}
	}
}

// held is how many bytes at the end of b could begin an occurrence that more data completes.
func (s *scrubber) held(b []byte) int {
	for k := min(s.max-1, len(b)); k > 0; k-- {
		tail := b[len(b)-k:]
		for _, p := range s.pats {
			if len(p) > k && bytes.HasPrefix(p, tail) {
				return k
			}
		}
	}
	return 0
}

// scrubReader is a body with the secrets masked. It holds back only the bytes that could be the
// start of a secret (none, mostly), so streamed answers (SSE, WebSocket) are not delayed.
type scrubReader struct {
	r     io.Reader
	s     *scrubber
	buf   []byte // read, masked, not yet returned; the last hold bytes wait for more
	ready int    // buf[:ready] may be returned
	err   error
	atEOF func() // called once, at the end of the body (trailers)
}

const scrubChunk = 32 << 10

func (z *scrubReader) Read(p []byte) (int, error) {
	for z.ready == 0 {
		if z.err != nil {
			if len(z.buf) > 0 {
				z.ready = len(z.buf) // the body ended: what is held cannot become a secret
				break
			}
			return 0, z.err
		}
		if cap(z.buf)-len(z.buf) < scrubChunk/2 {
			nb := make([]byte, len(z.buf), len(z.buf)+scrubChunk)
			copy(nb, z.buf)
			z.buf = nb
		}
		old := len(z.buf)
		n, err := z.r.Read(z.buf[old:cap(z.buf)])
		z.buf = z.buf[:old+n]
		if err != nil {
			z.err = err
			if err == io.EOF && z.atEOF != nil {
				z.atEOF()
				z.atEOF = nil
			}
		}
		// A secret may start in the held bytes: look from as far back as one could.
		from := max(0, old-z.s.max)
		z.s.bytes(z.buf[from:])
		if z.err == nil {
			z.ready = len(z.buf) - z.s.held(z.buf)
		} else {
			z.ready = len(z.buf)
		}
	}
	n := copy(p, z.buf[:z.ready])
	z.ready -= n
	rest := copy(z.buf, z.buf[n:])
	z.buf = z.buf[:rest]
	return n, nil
}

// scrubBody is an ordinary response body with the secrets masked.
type scrubBody struct {
	*scrubReader
	c io.Closer
}

func (b *scrubBody) Close() error { return b.c.Close() }

// scrubConn is the upgraded (101) body of a WebSocket: reads masked, writes as they are.
type scrubConn struct {
	*scrubReader
	rwc io.ReadWriteCloser
}

func (c *scrubConn) Write(p []byte) (int, error) { return c.rwc.Write(p) }
func (c *scrubConn) Close() error                { return c.rwc.Close() }

// prepareScrubbed makes a request's answer checkable: no compressed answers (an encoded body
// cannot be searched) and no compressed WebSocket frames.
func prepareScrubbed(out *http.Request) {
	out.Header.Del("Accept-Encoding")
	out.Header.Del("Sec-WebSocket-Extensions")
}

// scrubResponse masks the forms of the key sent with resp's request in its header, body and
// trailers. A body in an encoding the proxy cannot read (the upstream ignored that none was
// asked for) is refused rather than passed on unchecked; gzip is decoded.
func scrubResponse(resp *http.Response, svc Service, key string) error {
	s := newScrubber(svc.Secret, secretForms(resp.Request, svc, key))
	if len(s.pats) == 0 {
		return nil
	}
	s.header(resp.Header)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			resp.Body = &scrubConn{scrubReader: &scrubReader{r: rwc, s: s}, rwc: rwc}
		}
		return nil
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	var r io.Reader = resp.Body
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return fmt.Errorf("the answer says gzip but is not: %w", err)
		}
		r = zr
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.TransferEncoding = []string{"chunked"} // Response.Write keeps the connection
	default:
		return fmt.Errorf("the answer is encoded with %q, which the proxy cannot check for the key; refused", enc)
	}
	resp.Body = &scrubBody{scrubReader: &scrubReader{r: r, s: s, atEOF: func() { s.header(resp.Trailer) }}, c: resp.Body}
	return nil
}
