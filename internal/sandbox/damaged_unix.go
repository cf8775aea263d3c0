//go:build unix

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// killServing ends the processes of this user that serve the state folder dir: paddock's hidden
// commands take it as their argument. The init dies with its supervisor.
func killServing(dir string) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil // no /proc: no paddock processes of this kind either
	}
	var pids []int
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) >= 3 && (args[1] == "__supervise" || args[1] == "__egress-serve") && filepath.Clean(args[2]) == dir {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(b), ") Z ") {
				break // a zombie of its parent: gone for us
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}
