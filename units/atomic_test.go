package units_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.toml")
	require.NoError(t, os.WriteFile(p, []byte("old\n"), 0o600))

	require.NoError(t, units.WriteFileAtomic(p, []byte("new\n"), 0o640, nil))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "new\n", string(b))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())

	// A failing prepare leaves the old file and no temporary one.
	boom := errors.New("boom")
	err = units.WriteFileAtomic(p, []byte("never\n"), 0o644, func(*os.File) error { return boom })
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, p)
	b, _ = os.ReadFile(p)
	assert.Equal(t, "new\n", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left")

	// A directory that does not exist: an error naming the file.
	err = units.WriteFileAtomic(filepath.Join(dir, "none", "x"), nil, 0o644, nil)
	assert.ErrorContains(t, err, filepath.Join(dir, "none", "x"))
}
