package docker

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/paddockhq/paddock/internal/backend/docker/egresshost"
)

var linkClient = sync.OnceValues(func() (*client.Client, error) {
	return newClient()
})

// Link is egresshost.Linker: it runs the link process in the running container name with
// `docker exec` and returns that exec's stdin and stdout as one stream, with the container's
// start time.
func Link(ctx context.Context, name string) (io.ReadWriteCloser, string, error) {
	c, err := linkClient()
	if err != nil {
		return nil, "", err
	}
	ci, err := c.ContainerInspect(ctx, name)
	if client.IsErrNotFound(err) || err == nil && (ci.State == nil || !ci.State.Running) {
		return nil, "", egresshost.ErrGone
	}
	if err != nil {
		return nil, "", err
	}
	ex, err := c.ContainerExecCreate(ctx, name, container.ExecOptions{
		User: "0:0", AttachStdin: true, AttachStdout: true, AttachStderr: true,
		Cmd: []string{egresshost.Binary, "__egress-link", egresshost.LinkSocket},
	})
	if err != nil {
		return nil, "", fmt.Errorf("starting the link in %s: %v", name, firstLine(err))
	}
	hr, err := c.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("attaching to the link in %s: %v", name, firstLine(err))
	}
	return &execStream{hr: hr, r: hr.Reader}, ci.State.StartedAt, nil
}

// execStream is an exec's attach stream without a terminal: writes go to its stdin as they are,
// reads take its stdout out of the engine's frames (8-byte header: stream, 0, 0, 0, length).
// What the link process says on stderr goes to the log.
type execStream struct {
	hr     types.HijackedResponse
	r      *bufio.Reader
	left   int
	stream byte
}

func (s *execStream) Read(p []byte) (int, error) {
	for {
		if s.left == 0 {
			var h [8]byte
			if _, err := io.ReadFull(s.r, h[:]); err != nil {
				return 0, err
			}
			s.stream, s.left = h[0], int(binary.BigEndian.Uint32(h[4:]))
			continue
		}
		if s.stream != 1 {
			msg := make([]byte, s.left)
			n, err := io.ReadFull(s.r, msg)
			s.left -= n
			slog.Warn("egress link", "stderr", string(msg[:n]))
			if err != nil {
				return 0, err
			}
			continue
		}
		n, err := s.r.Read(p[:min(len(p), s.left)])
		s.left -= n
		if err == io.EOF && s.left > 0 {
			err = io.ErrUnexpectedEOF // cut inside a frame
		}
		return n, err
	}
}

func (s *execStream) Write(p []byte) (int, error) { return s.hr.Conn.Write(p) }

func (s *execStream) Close() error {
	s.hr.CloseWrite()
	s.hr.Close()
	return nil
}
