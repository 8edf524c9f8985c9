package reloader

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The private directory is root's alone, but a parent it creates stays
// open to traverse: /run/app also holds the instances' probe directories.
func TestPrivateDirKeepsItsParentOpen(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	run := filepath.Join(t.TempDir(), "run", "app")
	dir := filepath.Join(run, "private")
	require.NoError(t, privateDir(dir))
	for path, want := range map[string]os.FileMode{run: 0o755, dir: 0o700} {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), path)
	}
	// An existing parent is left as it is.
	require.NoError(t, os.Chmod(run, 0o750))
	require.NoError(t, os.Remove(dir))
	require.NoError(t, privateDir(dir))
	fi, err := os.Stat(run)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
}
