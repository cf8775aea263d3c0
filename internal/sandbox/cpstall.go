package sandbox

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// copyIdle is how long a copy's stream may stand still before paddock gives up on it: the half
// of a copy that runs in the sandbox is the sandbox's own tar, which an agent can replace with
// one that never ends.
var copyIdle = 60 * time.Second

// stallGuard watches a copy's stream and cancels the copy when it stops moving.
type stallGuard struct {
	moved  atomic.Int64
	cancel context.CancelCauseFunc
	ctx    context.Context
	done   chan struct{}
}

var errStalled = fmt.Errorf("the sandbox's side of the copy sent or took nothing for %s: stopped", copyIdle)

func watchStall(ctx context.Context) (context.Context, *stallGuard) {
	g := &stallGuard{done: make(chan struct{})}
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	go func() {
		tick := time.NewTicker(copyIdle / 4)
		defer tick.Stop()
		last, still := int64(-1), time.Duration(0)
		for {
			select {
			case <-g.done:
				return
			case <-g.ctx.Done():
				return
			case <-tick.C:
				if n := g.moved.Load(); n != last {
					last, still = n, 0
					continue
				}
				if still += copyIdle / 4; still >= copyIdle {
					g.cancel(errStalled)
					return
				}
			}
		}
	}()
	return g.ctx, g
}

func (g *stallGuard) stop() { close(g.done); g.cancel(nil) }

// err is errStalled when the guard stopped the copy.
func (g *stallGuard) err() error {
	if context.Cause(g.ctx) == errStalled {
		return errStalled
	}
	return nil
}

// await waits for the host side of the copy to finish; when the sandbox's side has ended but
// something it started still holds the stream open and quiet, closing c ends it.
func await[T any](g *stallGuard, ch <-chan T, c io.Closer) T {
	select {
	case v := <-ch:
		return v
	case <-g.ctx.Done():
		c.Close()
		return <-ch
	case <-time.After(copyIdle):
		c.Close()
		return <-ch
	}
}

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (g *stallGuard) reader(r io.Reader) io.Reader { return countReader{r, &g.moved} }
func (g *stallGuard) writer(w io.Writer) io.Writer { return countWriter{w, &g.moved} }
