package fsutil

import (
	"os"
	"path/filepath"
)

// ReplaceFile replaces path with data, atomically: a temporary file in the same folder is
// written, given mode perm and renamed over path, so a reader (or a crash) sees the old content
// or the new, never a mix, and two writers never share a temporary file.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return replace(path, data, perm, false)
}

// ReplaceFileSync is ReplaceFile that also syncs the file before the rename and the folder
// after it: once it returns, the new content survives a power cut.
func ReplaceFileSync(path string, data []byte, perm os.FileMode) error {
	return replace(path, data, perm, true)
}

func replace(path string, data []byte, perm os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if durable {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}
