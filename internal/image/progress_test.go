package image

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressOutput(t *testing.T) {
	var plain bytes.Buffer
	p := NewProgress(&plain)
	b := p.bar("abc", 100)
	b.Write(make([]byte, 60))
	b.finish("done")
	if plain.String() != "abc: done\n" {
		t.Errorf("plain output %q", plain.String())
	}
	var tty bytes.Buffer
	p = &Progress{w: &tty, tty: true, width: 80}
	b1, b2 := p.bar("layer1", 100), p.bar("layer2", 200)
	b1.Write(make([]byte, 50))
	b2.set("downloading")
	b1.finish("done")
	out := tty.String()
	if !strings.Contains(out, "[====================") || !strings.Contains(out, "\x1b[2A") || !strings.Contains(out, "layer1  done") {
		t.Errorf("terminal output %q", out)
	}
}
