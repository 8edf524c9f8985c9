package units_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

func TestFingerprint(t *testing.T) {
	lib, etc := t.TempDir(), t.TempDir()
	dirs := []string{etc, filepath.Join(t.TempDir(), "missing"), lib}
	require.NoError(t, os.WriteFile(filepath.Join(lib, "app@.service"), []byte("[Service]\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(lib, "other.service"), []byte("[Service]\n"), 0o644))
	fp := func() string {
		s, err := units.Fingerprint(dirs)
		require.NoError(t, err)
		return s
	}
	first := fp()
	assert.Equal(t, first, fp(), "stable")

	require.NoError(t, os.WriteFile(filepath.Join(lib, "other.service"), []byte("[Service]\nX=1\n"), 0o644))
	assert.Equal(t, first, fp(), "other units do not count")

	steps := []func(){
		func() { require.NoError(t, os.MkdirAll(filepath.Join(etc, "app@.service.d"), 0o755)) },
		func() {
			require.NoError(t, os.WriteFile(filepath.Join(etc, "app@.service.d", "override.conf"), []byte("[Service]\n"), 0o644))
		},
		func() {
			later := time.Now().Add(time.Minute)
			require.NoError(t, os.Chtimes(filepath.Join(etc, "app@.service.d", "override.conf"), later, later))
		},
		func() { require.NoError(t, os.MkdirAll(filepath.Join(etc, "service.d"), 0o755)) },
		func() { require.NoError(t, os.Symlink("/dev/null", filepath.Join(etc, "app.socket"))) }, // masked
		func() { require.NoError(t, os.Remove(filepath.Join(lib, "app@.service"))) },
	}
	seen := map[string]bool{first: true}
	for i, step := range steps {
		step()
		s := fp()
		assert.False(t, seen[s], "change %d is seen", i)
		seen[s] = true
	}
}
