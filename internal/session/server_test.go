//go:build linux

package session

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// hostTerm runs a session's process on the host, on a real terminal.
type hostTerm struct {
	*os.File
	cmd *exec.Cmd
}

func (h *hostTerm) Resize(rows, cols uint16) error {
	return pty.Setsize(h.File, &pty.Winsize{Rows: rows, Cols: cols})
}

func (h *hostTerm) Wait() (int, error) {
	err := h.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func hostSpawn(ctx context.Context, r Request) (Term, error) {
	cmd := exec.Command(r.Argv[0], r.Argv[1:]...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: r.Rows, Cols: r.Cols})
	if err != nil {
		return nil, err
	}
	return &hostTerm{f, cmd}, nil
}

func serve(t *testing.T) (string, string) {
	dir := t.TempDir()
	sock, state := filepath.Join(dir, "s.sock"), filepath.Join(dir, "sessions.json")
	ln, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv := NewServer(hostSpawn, state)
	// Before the folder goes: a session's end is written to the state file after its viewers
	// have been told.
	t.Cleanup(func() {
		if !srv.Wait(10 * time.Second) {
			t.Error("a session of the test did not end")
		}
	})
	go srv.Serve(ctx, ln)
	return sock, state
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !f(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func logs(t *testing.T, sock string, tail int) string {
	var b bytes.Buffer
	if err := Logs(context.Background(), sock, "", tail, false, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A session runs without a viewer; logs show what it printed; a viewer attaches, types, sees
// the answer, detaches with the keys (the session goes on), attaches again and sees the session
// end with its code; a second start of a running session is refused.
func TestSessionLifecycle(t *testing.T) {
	sock, state := serve(t)
	script := `echo started; read a; echo "first: $a"; read b; echo "second: $b"; exit 3`
	if _, err := Start(sock, Request{Argv: []string{"sh", "-c", script}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(sock, Request{Argv: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second start: %v", err)
	}
	waitFor(t, "the first line in the logs", func() bool { return strings.Contains(logs(t, sock, -1), "started") })
	if infos, _ := ReadState(state); len(infos) != 1 || !infos[0].Running {
		t.Errorf("state file: %+v", infos)
	}

	keys, _ := ParseDetachKeys("")
	attach := func(input string) (AttachResult, string) {
		inR, inW, _ := os.Pipe()
		outR, outW, _ := os.Pipe()
		var got bytes.Buffer
		copied := make(chan struct{})
		go func() { got.ReadFrom(outR); close(copied) }()
		done := make(chan AttachResult, 1)
		go func() {
			res, err := Attach(context.Background(), sock, "", inR, outW, keys)
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		time.Sleep(200 * time.Millisecond)
		inW.WriteString(input)
		var res AttachResult
		select {
		case res = <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("attach did not return")
		}
		outW.Close()
		<-copied
		inW.Close()
		return res, got.String()
	}
	res, screen := attach("one\n\x10\x11")
	if !res.Detached {
		t.Errorf("first attach: %+v, want detached", res)
	}
	if !strings.Contains(screen, "started") {
		t.Errorf("the viewer did not see the scrollback: %q", screen)
	}
	waitFor(t, "the answer while detached", func() bool { return strings.Contains(logs(t, sock, -1), "first: one") })
	if got := logs(t, sock, 1); !strings.Contains(got, "first: one") || strings.Contains(got, "started") {
		t.Errorf("logs --tail 1: %q", got)
	}
	res, screen = attach("two\n")
	if !res.Ended || res.Code != 3 || !strings.Contains(screen, "second: two") {
		t.Errorf("second attach: %+v, screen %q", res, screen)
	}
	if infos, _ := ReadState(state); len(infos) != 1 || infos[0].Running || infos[0].ExitCode != 3 {
		t.Errorf("state after the end: %+v", infos)
	}
	// An ended session: attach refused with one line, logs still there, a new start allowed.
	if _, err := Attach(context.Background(), sock, "", os.Stdin, os.Stdout, keys); err == nil || !strings.Contains(err.Error(), "ended") {
		t.Errorf("attach to an ended session: %v", err)
	}
	if !strings.Contains(logs(t, sock, -1), "second: two") {
		t.Error("the logs of an ended session are gone")
	}
	if _, err := Start(sock, Request{Argv: []string{"true"}}); err != nil {
		t.Errorf("a new start after the end: %v", err)
	}
}

// logs -f follows the output until the session ends.
func TestSessionFollow(t *testing.T) {
	sock, _ := serve(t)
	if _, err := Start(sock, Request{Argv: []string{"sh", "-c", "echo a; sleep 0.3; echo b; sleep 0.3; echo c"}}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Logs(context.Background(), sock, "", -1, true, &b) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not end with the session")
	}
	if s := b.String(); !strings.Contains(s, "a") || !strings.Contains(s, "c") {
		t.Errorf("followed: %q", s)
	}
}
