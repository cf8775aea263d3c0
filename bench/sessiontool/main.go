// Command sessiontool measures attaching to a session for bench/session.sh: it runs CMD (paddock
// attach NAME, tmux attach, docker attach) on a terminal of its own, N times, and prints the
// milliseconds from the command's start until the screen shows MARKER, one line per run; then
// the attaching process is killed (the session goes on, as after a detach).
//
//	sessiontool MARKER N CMD [ARGS...]
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/creack/pty"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: sessiontool MARKER N CMD [ARGS...]")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[2])
	for range n {
		ms, err := once(os.Args[3:], []byte(os.Args[1]))
		if err != nil {
			fmt.Fprintln(os.Stderr, "sessiontool:", err)
			os.Exit(1)
		}
		fmt.Printf("%.2f\n", ms)
	}
}

func once(argv []string, marker []byte) (float64, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var seen bytes.Buffer
	buf := make([]byte, 64<<10)
	var took time.Duration
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	for took == 0 {
		k, err := f.Read(buf)
		seen.Write(buf[:k])
		if bytes.Contains(seen.Bytes(), marker) {
			took = time.Since(start)
			break
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return 0, fmt.Errorf("attach never showed %q: %v; it showed %q", marker, err, seen.String())
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return float64(took.Microseconds()) / 1000, nil
}
