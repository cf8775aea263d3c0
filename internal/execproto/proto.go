//go:build unix

// Package execproto is the wire protocol between paddock's CLI and the init inside a sandbox:
// length-prefixed JSON messages over a unix socket, with file descriptors passed alongside
// (the caller's stdio one way, a PTY master the other way) so data never goes through a relay.
package execproto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Message types.
const (
	TypeExec    = "exec"    // client -> init: start a process (stdio fds attached unless TTY)
	TypeStarted = "started" // init -> client: process started (PTY master attached when TTY)
	TypeExit    = "exit"    // init -> client: process ended
	TypeError   = "error"   // init -> client: could not start
	TypeSignal  = "signal"  // client -> init: deliver a signal to the process group
	TypeResize  = "resize"  // client -> init: window size changed
	TypeConfig  = "config"  // supervisor -> init: build the root (detached mounts attached)
	TypeReady   = "ready"   // init -> supervisor: serving exec requests
	// TypeSockets: supervisor -> init: make Count unconnected TCP sockets of Family (AF_INET,
	// AF_INET6) in the sandbox's network namespace and send them back (TypeStarted). The
	// supervisor connects them itself, to reach a port inside (paddock run -p).
	TypeSockets = "sockets"
)

// Message is every message on the wire; unused fields stay empty.
type Message struct {
	Type    string   `json:"type"`
	Argv    []string `json:"argv,omitempty"`
	Env     []string `json:"env,omitempty"`
	Dir     string   `json:"dir,omitempty"`
	User    string   `json:"user,omitempty"`
	TTY     bool     `json:"tty,omitempty"`
	Rows    uint16   `json:"rows,omitempty"`
	Cols    uint16   `json:"cols,omitempty"`
	Pid     int      `json:"pid,omitempty"`
	Code    int      `json:"code,omitempty"`
	Signal  int      `json:"signal,omitempty"`
	Message string   `json:"message,omitempty"`
	Count   int      `json:"count,omitempty"`
	Family  int      `json:"family,omitempty"`
	// Payload carries the init's configuration on the supervisor's control socket.
	Payload json.RawMessage `json:"payload,omitempty"`
	// FDs is how many descriptors travel with this message (set by Send).
	FDs int `json:"fds,omitempty"`
}

const maxFrame = 1 << 20

// Conn frames messages on a unix socket and carries file descriptors with them.
type Conn struct {
	uc   *net.UnixConn
	wmu  sync.Mutex
	buf  []byte
	fds  []int
	rerr error
}

// NewConn wraps a connected unix socket.
func NewConn(uc *net.UnixConn) *Conn { return &Conn{uc: uc} }

// Close closes the socket and any received descriptors not yet taken.
func (c *Conn) Close() error {
	for _, fd := range c.fds {
		syscall.Close(fd)
	}
	c.fds = nil
	return c.uc.Close()
}

// SetDeadline bounds the socket's reads and writes.
func (c *Conn) SetDeadline(t time.Time) error { return c.uc.SetDeadline(t) }

// CloseWrite half-closes the socket.
func (c *Conn) CloseWrite() error { return c.uc.CloseWrite() }

// Send writes one message with optional descriptors attached.
func (c *Conn) Send(m Message, files ...*os.File) error {
	if len(files) > maxFDs {
		return fmt.Errorf("execproto: %d descriptors in one message, at most %d", len(files), maxFDs)
	}
	m.FDs = len(files)
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	frame := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(frame, uint32(len(body)))
	copy(frame[4:], body)
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = syscall.UnixRights(fds...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, _, err := c.uc.WriteMsgUnix(frame, oob, nil)
	if err != nil {
		return err
	}
	if n < len(frame) {
		_, err = c.uc.Write(frame[n:])
	}
	return err
}

// maxFDs is the kernel's limit of descriptors in one message (SCM_MAX_FD).
const maxFDs = 253

// Recv reads one message and returns the descriptors that arrived with it (the caller owns them;
// they are close-on-exec).
func (c *Conn) Recv() (Message, []int, error) {
	var m Message
	for len(c.buf) < 4 || len(c.buf) < 4+int(binary.BigEndian.Uint32(c.buf)) {
		if len(c.buf) >= 4 && binary.BigEndian.Uint32(c.buf) > maxFrame {
			return m, nil, errors.New("execproto: frame too large")
		}
		if err := c.fill(); err != nil {
			return m, nil, err
		}
	}
	n := int(binary.BigEndian.Uint32(c.buf))
	if err := json.Unmarshal(c.buf[4:4+n], &m); err != nil {
		return m, nil, fmt.Errorf("execproto: bad message: %w", err)
	}
	c.buf = c.buf[4+n:]
	// Descriptors queue up in arrival order; each message takes the ones it says it carries,
	// however the kernel grouped the bytes into reads.
	if m.FDs < 0 || m.FDs > len(c.fds) {
		return m, nil, fmt.Errorf("execproto: message announces %d descriptors, %d arrived", m.FDs, len(c.fds))
	}
	fds := append([]int(nil), c.fds[:m.FDs]...)
	c.fds = c.fds[m.FDs:]
	for _, fd := range fds {
		syscall.CloseOnExec(fd)
	}
	return m, fds, nil
}

func (c *Conn) fill() error {
	if c.rerr != nil {
		return c.rerr
	}
	b := make([]byte, 16<<10)
	// Room for the most descriptors one message can carry (the kernel's SCM_MAX_FD): fewer
	// would have the kernel drop the rest (a sandbox with many mounts sends one per mount).
	oob := make([]byte, syscall.CmsgSpace(maxFDs*4))
	n, oobn, _, _, err := c.uc.ReadMsgUnix(b, oob)
	n, oobn = max(n, 0), max(oobn, 0)
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		if perr == nil {
			for _, msg := range msgs {
				if fds, ferr := syscall.ParseUnixRights(&msg); ferr == nil {
					c.fds = append(c.fds, fds...)
				}
			}
		}
	}
	c.buf = append(c.buf, b[:n]...)
	if n == 0 && err == nil {
		err = errors.New("execproto: connection closed")
	}
	if err != nil {
		c.rerr = err
		if n > 0 {
			return nil
		}
	}
	return err
}
