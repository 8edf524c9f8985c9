package units

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that a reader, or a crash,
// sees the old file or the new one, never a part: a temporary file in the
// same directory, written, given mode, synced, then renamed over path.
// prepare, if not nil, is called on the temporary file before the data is
// written (to set its group, say); its error aborts the write. Nothing is
// left behind on failure, and the error names path.
func WriteFileAtomic(path string, data []byte, mode os.FileMode, prepare func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing by that name
	err = f.Chmod(mode)       // CreateTemp made it 0600
	if err == nil && prepare != nil {
		err = prepare(f)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
