//go:build unix

package execproto

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketPair returns the two ends of a connected unix stream socketpair as *net.UnixConn.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conn := func(fd int, name string) *net.UnixConn {
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatalf("FileConn: %v", err)
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			t.Fatalf("FileConn gave %T, want *net.UnixConn", c)
		}
		t.Cleanup(func() { uc.Close() })
		return uc
	}
	return conn(fds[0], "a"), conn(fds[1], "b")
}

// connPair returns a Conn on each end of a socketpair.
func connPair(t *testing.T) (*Conn, *Conn) {
	a, b := socketPair(t)
	return NewConn(a), NewConn(b)
}

// recvTimeout runs Recv with a deadline so that a protocol bug fails the test instead of hanging it.
func recvTimeout(t *testing.T, c *Conn) (Message, []int, error) {
	t.Helper()
	c.uc.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.uc.SetReadDeadline(time.Time{})
	return c.Recv()
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func TestSendRecvEveryType(t *testing.T) {
	payload, _ := json.Marshal(map[string]any{"root": "/run/x", "ops": []map[string]any{{"op": "bind", "ro": true}}, "n": 3})
	tests := []Message{
		{Type: TypeExec, Argv: []string{"bash", "-lc", "echo 'héllo'\nexit 3"}, Env: []string{"A=1", "EMPTY="}, Dir: "/work dir", User: "1000:1000", TTY: true, Rows: 50, Cols: 200},
		{Type: TypeExec, Argv: []string{"true"}},
		{Type: TypeStarted, Pid: 4242},
		{Type: TypeExit, Code: 137, Signal: 9},
		{Type: TypeExit, Code: -1},
		{Type: TypeExit},
		{Type: TypeError, Message: "bash: command not found in the sandbox \"quoted\" \x00 and a NUL"},
		{Type: TypeSignal, Signal: 2},
		{Type: TypeResize, Rows: 24, Cols: 80},
		{Type: TypeConfig, Payload: payload},
		{Type: TypeReady, Pid: 1},
	}
	a, b := connPair(t)
	for _, m := range tests {
		t.Run(m.Type, func(t *testing.T) {
			if err := a.Send(m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got, fds, err := recvTimeout(t, b)
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if len(fds) != 0 {
				closeFDs(fds)
				t.Errorf("Recv returned %d descriptors, none were sent", len(fds))
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip:\n got  %#v\n want %#v", got, m)
			}
		})
	}
	// The other direction works on the same connection.
	if err := b.Send(Message{Type: TypeReady}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := recvTimeout(t, a); err != nil || got.Type != TypeReady {
		t.Fatalf("reverse direction: %+v, %v", got, err)
	}
}

func TestPayloadKeepsItsJSON(t *testing.T) {
	a, b := connPair(t)
	type cfg struct {
		Root string   `json:"root"`
		Env  []string `json:"env"`
	}
	want := cfg{Root: "/x", Env: []string{"PATH=/bin", "Q=\"quoted\""}}
	raw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send(Message{Type: TypeConfig, Payload: raw}); err != nil {
		t.Fatal(err)
	}
	m, _, err := recvTimeout(t, b)
	if err != nil {
		t.Fatal(err)
	}
	var got cfg
	if err := json.Unmarshal(m.Payload, &got); err != nil {
		t.Fatalf("payload %s: %v", m.Payload, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("payload = %+v, want %+v", got, want)
	}
}

func TestDescriptorsArrive(t *testing.T) {
	for _, n := range []int{1, 3, 40, maxFDs} { // a sandbox with many mounts sends dozens
		t.Run(fmt.Sprintf("%d pipes", n), func(t *testing.T) {
			a, b := connPair(t)
			var readers, writers []*os.File
			for range n {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close() })
				readers, writers = append(readers, r), append(writers, w)
			}
			if err := a.Send(Message{Type: TypeStarted, Pid: 7}, writers...); err != nil {
				t.Fatalf("Send: %v", err)
			}
			for _, w := range writers {
				w.Close() // only the received copies keep the pipes open now
			}
			m, fds, err := recvTimeout(t, b)
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			if m.Type != TypeStarted || m.Pid != 7 {
				t.Errorf("message = %+v", m)
			}
			if len(fds) != n {
				closeFDs(fds)
				t.Fatalf("received %d descriptors, want %d", len(fds), n)
			}
			for i, fd := range fds {
				flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
				if err != nil || flags&unix.FD_CLOEXEC == 0 {
					t.Errorf("descriptor %d is not close-on-exec (flags %#x, %v)", i, flags, err)
				}
				f := os.NewFile(uintptr(fd), fmt.Sprintf("received-%d", i))
				if _, err := fmt.Fprintf(f, "through pipe %d", i); err != nil {
					t.Fatalf("writing into received descriptor %d: %v", i, err)
				}
				f.Close()
			}
			for i, r := range readers {
				b, err := io.ReadAll(r) // EOF once the received write end is closed
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("through pipe %d", i); string(b) != want {
					t.Errorf("pipe %d read %q, want %q (descriptors out of order?)", i, b, want)
				}
			}
		})
	}
}

func TestBackToBackMessages(t *testing.T) {
	a, b := connPair(t)
	var want []Message
	for i := range 20 {
		m := Message{Type: TypeResize, Rows: uint16(i + 1), Cols: uint16(100 + i), Message: strings.Repeat("x", i*97)}
		want = append(want, m)
		if err := a.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range want {
		got, _, err := recvTimeout(t, b)
		if err != nil {
			t.Fatalf("Recv #%d: %v", i, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("Recv #%d = %+v, want %+v", i, got, w)
		}
	}
}

// Descriptors belong to the message they were sent with, also when messages are sent
// back-to-back and one read from the socket could pick up several of them.
func TestDescriptorsStayWithTheirMessage(t *testing.T) {
	a, b := connPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	sent := []struct {
		m     Message
		files []*os.File
	}{
		{Message{Type: TypeStarted, Pid: 1}, nil},
		{Message{Type: TypeStarted, Pid: 2}, []*os.File{w}},
		{Message{Type: TypeExit, Code: 3}, nil},
	}
	for _, s := range sent {
		if err := a.Send(s.m, s.files...); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range sent {
		m, fds, err := recvTimeout(t, b)
		if err != nil {
			t.Fatalf("Recv #%d: %v", i, err)
		}
		closeFDs(fds)
		m.FDs = 0 // Send fills it in; compare the rest
		if !reflect.DeepEqual(m, s.m) {
			t.Fatalf("Recv #%d = %+v, want %+v", i, m, s.m)
		}
		if len(fds) != len(s.files) {
			t.Errorf("message #%d (%s pid %d) came with %d descriptors, it was sent with %d",
				i, m.Type, m.Pid, len(fds), len(s.files))
		}
	}
}

func TestFrameSplitAcrossWrites(t *testing.T) {
	raw, peer := socketPair(t)
	c := NewConn(peer)
	want := Message{Type: TypeExec, Argv: []string{"echo", strings.Repeat("y", 40<<10)}, Dir: "/w"}
	body, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	chunks := [][]byte{hdr[:2], hdr[2:], body[:10], body[10 : 20<<10], body[20<<10:]}

	type result struct {
		m   Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, _, err := recvTimeout(t, c)
		done <- result{m, err}
	}()
	for i, ch := range chunks {
		if _, err := raw.Write(ch); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if i == len(chunks)-1 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("Recv returned after chunk %d of %d: %+v, %v", i+1, len(chunks), r.m.Type, r.err)
		default:
		}
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Recv: %v", r.err)
	}
	if !reflect.DeepEqual(r.m, want) {
		t.Fatalf("reassembled message differs: type %q, argv lengths %d", r.m.Type, len(r.m.Argv))
	}
}

func TestFrameSizeLimit(t *testing.T) {
	one, _ := json.Marshal(Message{Type: TypeError, Message: "z"})
	envelope := len(one) - 1 // the JSON around a Message of n bytes is n+envelope bytes
	tests := []struct {
		name    string
		bodyLen int
		wantErr bool
	}{
		{"1 MiB with its header", maxFrame - 4, false},
		{"1 MiB and a byte", maxFrame + 1, true},
		{"4 MiB", 4 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := connPair(t)
			m := Message{Type: TypeError, Message: strings.Repeat("z", tt.bodyLen-envelope)}
			sendErr := make(chan error, 1)
			go func() { sendErr <- a.Send(m) }()
			got, _, err := recvTimeout(t, b)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Recv of a %d-byte frame succeeded", tt.bodyLen)
				}
				if !strings.Contains(err.Error(), "too large") {
					t.Errorf("error %q does not say the frame is too large", err)
				}
				b.Close() // unblocks the sender
				<-sendErr
				return
			}
			if err != nil {
				t.Fatalf("Recv of a %d-byte frame: %v", tt.bodyLen, err)
			}
			if got.Message != m.Message {
				t.Fatalf("message of %d bytes came back with %d", len(m.Message), len(got.Message))
			}
			if err := <-sendErr; err != nil {
				t.Fatalf("Send: %v", err)
			}
		})
	}

	t.Run("header alone announcing too much", func(t *testing.T) {
		raw, peer := socketPair(t)
		c := NewConn(peer)
		if _, err := raw.Write(binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF)); err != nil {
			t.Fatal(err)
		}
		_, _, err := recvTimeout(t, c)
		if err == nil || !strings.Contains(err.Error(), "too large") {
			t.Fatalf("Recv = %v, want a frame-too-large error without waiting for the body", err)
		}
	})
}

func TestRecvErrors(t *testing.T) {
	tests := []struct {
		name  string
		write []byte // raw bytes from the peer before it closes
		close func(raw *net.UnixConn) error
		want  string
	}{
		{name: "peer closed", close: (*net.UnixConn).Close},
		{name: "peer half-closed", close: (*net.UnixConn).CloseWrite},
		{name: "closed inside the header", write: []byte{0, 0}, close: (*net.UnixConn).Close},
		{name: "closed inside the body", write: append(binary.BigEndian.AppendUint32(nil, 100), `{"type":"ex`...), close: (*net.UnixConn).Close},
		{name: "bad JSON", write: append(binary.BigEndian.AppendUint32(nil, 5), "{bad}"...), close: func(*net.UnixConn) error { return nil }, want: "bad message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, peer := socketPair(t)
			c := NewConn(peer)
			if len(tt.write) > 0 {
				if _, err := raw.Write(tt.write); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.close(raw); err != nil {
				t.Fatal(err)
			}
			m, fds, err := recvTimeout(t, c)
			if err == nil {
				t.Fatalf("Recv = %+v, %v, nil; want an error", m, fds)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "i/o timeout") {
				t.Fatalf("Recv hung until the deadline instead of noticing: %v", err)
			}
		})
	}

	t.Run("error is sticky", func(t *testing.T) {
		a, b := connPair(t)
		if err := a.Send(Message{Type: TypeReady}); err != nil {
			t.Fatal(err)
		}
		a.Close()
		if m, _, err := recvTimeout(t, b); err != nil || m.Type != TypeReady {
			t.Fatalf("message sent before the close: %+v, %v", m, err)
		}
		for i := range 2 {
			if _, _, err := recvTimeout(t, b); err == nil || strings.Contains(err.Error(), "timeout") {
				t.Fatalf("Recv #%d after close: %v, want a closed-connection error", i, err)
			}
		}
	})
}

func TestConcurrentSendsDoNotInterleave(t *testing.T) {
	a, b := connPair(t)
	const senders, each = 8, 10
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Large enough that one write cannot carry the whole frame.
				m := Message{Type: TypeExec, Pid: s*1000 + i, Message: strings.Repeat(string(rune('a'+s)), 300<<10)}
				if err := a.Send(m); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		}()
	}
	next := make([]int, senders)
	for range senders * each {
		m, _, err := recvTimeout(t, b)
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		s, i := m.Pid/1000, m.Pid%1000
		if s < 0 || s >= senders || i != next[s] {
			t.Fatalf("message pid %d out of order (want sender %d's #%d)", m.Pid, s, next[s])
		}
		next[s]++
		if m.Message != strings.Repeat(string(rune('a'+s)), 300<<10) {
			t.Fatalf("message of sender %d is mixed with another's", s)
		}
	}
	wg.Wait()
}
