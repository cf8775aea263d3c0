package portfwd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paddockhq/paddock/internal/backend"
)

func sock(t *testing.T, family, typ int) *os.File {
	t.Helper()
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "test-socket")
}

// The sandbox side is not trusted: only fresh, unconnected TCP sockets of the family asked for
// are kept from what it hands over.
func TestPoolKeepsOnlyFreshSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	listening, _ := ln.(*net.TCPListener).File()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	connected, _ := conn.(*net.TCPConn).File()
	devnull, _ := os.Open(os.DevNull)
	r, w, _ := os.Pipe()
	defer w.Close()
	cases := []struct {
		name string
		f    *os.File
		keep bool
	}{
		{"fresh tcp4", sock(t, unix.AF_INET, unix.SOCK_STREAM), true},
		{"tcp6 for tcp4", sock(t, unix.AF_INET6, unix.SOCK_STREAM), false},
		{"udp", sock(t, unix.AF_INET, unix.SOCK_DGRAM), false},
		{"unix", sock(t, unix.AF_UNIX, unix.SOCK_STREAM), false},
		{"listening", listening, false},
		{"connected", connected, false},
		{"file", devnull, false},
		{"pipe", r, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &Pool{Fill: func(family, n int) ([]*os.File, error) { return []*os.File{c.f}, nil }}
			got, err := p.fill(unix.AF_INET)
			if c.keep != (err == nil && len(got) == 1) {
				t.Errorf("kept %d (err %v), want keep=%v", len(got), err, c.keep)
			}
		})
	}
}

// A published port forwards to the port "inside" (here the test's own namespace), both ways,
// with half-close; an unpublished one refuses; one in use is refused with ErrPortInUse.
func TestServerForwards(t *testing.T) {
	inside, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	go func() {
		for {
			c, err := inside.Accept()
			if err != nil {
				return
			}
			go func() {
				b, _ := io.ReadAll(c)
				fmt.Fprintf(c, "got %d: %s", len(b), strings.ToUpper(string(b)))
				c.Close()
			}()
		}
	}()
	pool := &Pool{Batch: 4, Fill: func(family, n int) ([]*os.File, error) {
		var fs []*os.File
		for range n {
			fs = append(fs, sock(t, family, unix.SOCK_STREAM))
		}
		return fs, nil
	}}
	s := NewServer(pool.Dial)
	defer s.Close()
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	hp := free.Addr().(*net.TCPAddr).Port
	free.Close()
	p := backend.Port{HostIP: "127.0.0.1", HostPort: hp, Port: inside.Addr().(*net.TCPAddr).Port}
	if err := s.Publish(p); err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // more than a batch
		c, err := net.Dial("tcp", p.HostAddr())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "hello %d", i)
		c.(*net.TCPConn).CloseWrite()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if want := fmt.Sprintf("got 7: HELLO %d", i); err != nil || string(b) != want {
			t.Fatalf("connection %d: %q %v, want %q", i, b, err, want)
		}
	}
	busy := NewServer(pool.Dial)
	if err := busy.Publish(p); !errors.Is(err, backend.ErrPortInUse) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("publishing a port in use: %v", err)
	}
	s.Unpublish(p)
	if c, err := net.DialTimeout("tcp", p.HostAddr(), time.Second); err == nil {
		c.Close()
		t.Error("an unpublished port still accepts connections")
	}
}
