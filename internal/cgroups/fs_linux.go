package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// exists tells whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// canWrite returns nil if this process (by its effective ids) may write path.
// It opens nothing, so it is safe on cgroup control files.
func canWrite(path string) error {
	if err := unix.Faccessat(unix.AT_FDCWD, path, unix.W_OK, unix.AT_EACCESS); err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}

// writeFile writes s to the existing cgroup control file path in one write.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", s, path, err)
	}
	return nil
}

// readWords reads a space-separated list file such as cgroup.controllers.
func readWords(path string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	words := map[string]bool{}
	for _, w := range strings.Fields(string(data)) {
		words[w] = true
	}
	return words, nil
}

// readInt reads a file holding one integer, such as memory.current.
func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return n, nil
}

// readKey reads the value of key from a flat-keyed file ("key value" lines)
// such as cpu.stat or memory.events. A missing key reads as 0.
func readKey(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s in %s: %w", key, path, err)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, nil
}

// readPids reads a cgroup.procs file.
func readPids(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// mkdirExist makes dir, which may already exist.
func mkdirExist(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// subgroups returns dir and every group below it, parents before children.
// A dir that does not exist yields nothing.
func subgroups(dir string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // removed while we looked
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, path)
		}
		return nil
	})
	return dirs, err
}

// treeProcs returns the distinct pids in the groups dirs and their subgroups.
func treeProcs(dirs []string) ([]int, error) {
	var all []int
	for _, top := range dirs {
		groups, err := subgroups(top)
		if err != nil {
			return nil, err
		}
		for _, dir := range groups {
			pids, err := readPids(filepath.Join(dir, "cgroup.procs"))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			all = append(all, pids...)
		}
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// removeTree removes the group dir and its subgroups, children first. They
// must hold no processes. A dir already gone is not an error.
func removeTree(dir string) error {
	groups, err := subgroups(dir)
	if err != nil {
		return err
	}
	for _, g := range slices.Backward(groups) {
		if err := rmdirRetry(g); err != nil {
			return err
		}
	}
	return nil
}
