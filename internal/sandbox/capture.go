package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Output is what a command wrote on one stream, bounded: the first and the last bytes of it
// when it wrote more than the limit.
type Output struct {
	// Text is the output kept; when Truncated, the middle is left out and a line in its place
	// says how much.
	Text string `json:"text"`
	// Bytes is how much the command wrote in all.
	Bytes     int64 `json:"bytes"`
	Truncated bool  `json:"truncated"`
}

// Captured is a command's output.
type Captured struct {
	Stdout Output `json:"stdout"`
	Stderr Output `json:"stderr"`
}

// Capture runs run (a call to Exec or RunAgent) with streams that keep at most limit bytes of
// each of its outputs (half from the start, half from the end) and give it stdin (nil: none),
// and returns its exit code and output. Output past the limit is read and dropped, so the
// command never blocks on a full pipe. A process left running in the sandbox that still holds
// the streams once the command has ended is not waited for.
func Capture(stdin []byte, limit int, run func(Streams) (int, error)) (int, Captured, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return -1, Captured{}, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return -1, Captured{}, err
	}
	s := Streams{Stdout: outW, Stderr: errW}
	if stdin != nil {
		inR, inW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			errR.Close()
			errW.Close()
			return -1, Captured{}, err
		}
		s.Stdin = inR
		defer inR.Close()
		go func() {
			inW.Write(stdin)
			inW.Close()
		}()
	}
	bufs := []*bounded{{limit: limit}, {limit: limit}}
	var wg sync.WaitGroup
	for i, r := range []*os.File{outR, errR} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(bufs[i], r)
		}()
	}
	code, err := run(s)
	outW.Close()
	errW.Close()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(250 * time.Millisecond): // a background process inside still holds them
	}
	outR.Close()
	errR.Close()
	<-done
	return code, Captured{Stdout: bufs[0].output(), Stderr: bufs[1].output()}, err
}

// bounded keeps the first and the last limit/2 bytes written to it.
type bounded struct {
	limit      int
	head, tail []byte
	total      int64
}

func (b *bounded) Write(p []byte) (int, error) {
	n0 := len(p)
	b.total += int64(n0)
	half := b.limit / 2
	if n := min(len(p), b.limit-half-len(b.head)); n > 0 {
		b.head = append(b.head, p[:n]...)
		p = p[n:]
	}
	switch {
	case len(p) == 0 || half == 0:
	case len(p) >= half:
		b.tail = append(b.tail[:0], p[len(p)-half:]...)
	default:
		b.tail = append(b.tail, p...)
		if over := len(b.tail) - half; over > 0 {
			b.tail = append(b.tail[:0], b.tail[over:]...)
		}
	}
	return n0, nil
}

func (b *bounded) output() Output {
	kept := int64(len(b.head) + len(b.tail))
	o := Output{Bytes: b.total, Truncated: kept < b.total}
	var text bytes.Buffer
	text.Write(b.head)
	if o.Truncated {
		fmt.Fprintf(&text, "\n[... %d bytes left out ...]\n", b.total-kept)
	}
	text.Write(b.tail)
	o.Text = strings.ToValidUTF8(text.String(), "\uFFFD")
	return o
}
