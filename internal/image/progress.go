package image

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress reports pulls on stderr: a bar per layer on a terminal, one plain line per event
// otherwise.
type Progress struct {
	w     io.Writer
	tty   bool
	width int
	mu    sync.Mutex
	bars  []*bar
	drawn int
	last  time.Time
}

func NewProgress(w io.Writer) *Progress {
	if w == nil {
		w = io.Discard
	}
	p := &Progress{w: w, width: 80}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 40 {
			p.width = wd
		}
	}
	return p
}

// line prints a status line (above the bars on a terminal).
func (p *Progress) Line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\r\x1b[J", p.drawn)
		p.drawn = 0
		fmt.Fprintf(p.w, format+"\n", args...)
		p.draw(true)
		return
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// bar is one layer's line.
type bar struct {
	p      *Progress
	label  string
	total  int64
	cur    int64
	status string
}

func (p *Progress) bar(label string, total int64) *bar {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := &bar{p: p, label: label, total: total, status: "waiting"}
	p.bars = append(p.bars, b)
	return b
}

// Write counts bytes read through the bar.
func (b *bar) Write(d []byte) (int, error) {
	b.p.mu.Lock()
	b.cur += int64(len(d))
	b.status = ""
	b.p.draw(false)
	b.p.mu.Unlock()
	return len(d), nil
}

func (b *bar) set(status string) {
	b.p.mu.Lock()
	b.status = status
	b.p.draw(true)
	b.p.mu.Unlock()
}

// finish ends the bar with a status; off a terminal that is the layer's one line.
func (b *bar) finish(status string) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	b.status = status
	b.cur = max(b.cur, b.total)
	if !b.p.tty {
		fmt.Fprintf(b.p.w, "%s: %s\n", b.label, status)
		return
	}
	b.p.draw(true)
}

// draw repaints every bar in place (at most ten times a second unless forced). Call with mu held.
func (p *Progress) draw(force bool) {
	if !p.tty || (!force && time.Since(p.last) < 100*time.Millisecond) {
		return
	}
	p.last = time.Now()
	var sb strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", p.drawn)
	}
	for _, b := range p.bars {
		sb.WriteString("\r\x1b[K")
		sb.WriteString(b.render(p.width))
		sb.WriteString("\n")
	}
	p.drawn = len(p.bars)
	io.WriteString(p.w, sb.String())
}

func (b *bar) render(width int) string {
	size := humanBytes(b.cur)
	if b.total > 0 {
		size += " / " + humanBytes(b.total)
	}
	if b.status != "" && (b.status != "waiting" || b.cur == 0) {
		return fmt.Sprintf("%s  %s", b.label, b.status)
	}
	n := min(40, max(10, width-len(b.label)-len(size)-8))
	fill := 0
	if b.total > 0 {
		fill = int(min(int64(n), b.cur*int64(n)/b.total))
	}
	return fmt.Sprintf("%s  [%s%s]  %s", b.label, strings.Repeat("=", fill), strings.Repeat(" ", n-fill), size)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// HumanBytes is n as people read it: "12.3 MB".
func HumanBytes(n int64) string { return humanBytes(n) }
