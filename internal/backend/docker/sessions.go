package docker

import (
	"path/filepath"

	"github.com/paddockhq/paddock/internal/backend"
)

// Background sessions on the Docker backend: a detached host process of paddock-oci per sandbox
// (SessionServeCommand) holds each session's exec, with its terminal, through the Engine API,
// and answers on the sandbox's control socket as the native supervisor does. It ends with the
// container. (Linux hosts; sessions_linux.go.)

var _ backend.SessionHost = (*Backend)(nil)

// SessionServeCommand is paddock-oci's internal command that serves a sandbox's sessions.
const SessionServeCommand = "__docker-sessions"

func sessionSock(dir string) string    { return filepath.Join(dir, "supervisor.sock") }
func sessionState(dir string) string   { return filepath.Join(dir, "sessions.json") }
func sessionSandbox(dir string) string { return filepath.Join(dir, "sessions-sandbox.json") }

// SessionSocket implements backend.SessionHost.
func (b *Backend) SessionSocket(sb *backend.Sandbox) string { return sessionSock(sb.Dir) }

// SessionState implements backend.SessionHost.
func (b *Backend) SessionState(sb *backend.Sandbox) string { return sessionState(sb.Dir) }
