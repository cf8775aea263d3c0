//go:build ignore

// iotool times many-small-file work for bench/run.sh, the same binary inside and outside a
// sandbox, so that only the filesystem path differs. It prints the elapsed seconds of the phase.
//
//	iotool create DIR N SIZE   create N files of SIZE bytes in DIR (a new folder), then syncfs
//	iotool read DIR            read every file in DIR to its end
//	iotool delete DIR          unlink every file in DIR and DIR itself, then syncfs
//	iotool opens FILE N        open FILE read-only and close it, N times (per-open costs of the path)
//
// It is excluded from the module's build (go:build ignore); run.sh builds it with
// `go build -o X bench/iotool/main.go`.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func die(err error) {
	fmt.Fprintln(os.Stderr, "iotool:", err)
	os.Exit(1)
}

func syncfs(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		die(err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		die(err)
	}
}

func main() {
	if len(os.Args) < 3 {
		die(fmt.Errorf("usage: iotool create DIR N SIZE | read DIR | delete DIR | opens FILE N"))
	}
	dir := os.Args[2]
	start := time.Now()
	switch os.Args[1] {
	case "create":
		if len(os.Args) != 5 {
			die(fmt.Errorf("usage: iotool create DIR N SIZE"))
		}
		n, err1 := strconv.Atoi(os.Args[3])
		size, err2 := strconv.Atoi(os.Args[4])
		if err1 != nil || err2 != nil || n < 1 || size < 0 {
			die(fmt.Errorf("bad N or SIZE"))
		}
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = byte(i*7 + 1)
		}
		start = time.Now()
		if err := os.Mkdir(dir, 0o755); err != nil {
			die(err)
		}
		for i := 0; i < n; i++ {
			fd, err := syscall.Open(filepath.Join(dir, "f"+strconv.Itoa(i)), syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
			if err != nil {
				die(err)
			}
			if w, err := syscall.Write(fd, buf); err != nil || w != size {
				die(fmt.Errorf("short write: %d %v", w, err))
			}
			syscall.Close(fd)
		}
		syncfs(dir)
	case "read":
		names, err := readNames(dir)
		if err != nil {
			die(err)
		}
		buf := make([]byte, 64<<10)
		var total int64
		for _, name := range names {
			fd, err := syscall.Open(filepath.Join(dir, name), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				die(err)
			}
			for {
				r, err := syscall.Read(fd, buf)
				if err != nil {
					die(err)
				}
				if r == 0 {
					break
				}
				total += int64(r)
			}
			syscall.Close(fd)
		}
		if total == 0 {
			die(io.ErrUnexpectedEOF)
		}
	case "delete":
		names, err := readNames(dir)
		if err != nil {
			die(err)
		}
		for _, name := range names {
			if err := syscall.Unlink(filepath.Join(dir, name)); err != nil {
				die(err)
			}
		}
		if err := os.Remove(dir); err != nil {
			die(err)
		}
		syncfs(filepath.Dir(dir))
	case "opens":
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 1 {
			die(fmt.Errorf("bad N"))
		}
		start = time.Now()
		for i := 0; i < n; i++ {
			fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				die(err)
			}
			syscall.Close(fd)
		}
	default:
		die(fmt.Errorf("unknown phase %q", os.Args[1]))
	}
	fmt.Printf("%.6f\n", time.Since(start).Seconds())
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}
