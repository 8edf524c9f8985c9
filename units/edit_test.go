package units

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSetInstances(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.toml")
	four, err := ParseInstances("4")
	require.NoError(t, err)
	auto, err := ParseInstances("max")
	require.NoError(t, err)

	// A missing file gets the key alone.
	cfg, err := SetInstances(path, four)
	require.NoError(t, err)
	assert.Equal(t, 4, cfg.Count())
	b, _ := os.ReadFile(path)
	assert.Equal(t, "instances = 4\n", string(b))

	// Comments, other keys and tables stay; the key is replaced in place.
	orig := "# the cluster\ninstances = \"auto\" # one per CPU\nlisten = [\"127.0.0.1:9\"]\n\n[env]\nA = \"instances = 1\"\n"
	require.NoError(t, os.WriteFile(path, []byte(orig), 0o640))
	require.NoError(t, os.Chmod(path, 0o640))
	_, err = SetInstances(path, four)
	require.NoError(t, err)
	b, _ = os.ReadFile(path)
	assert.Equal(t, "# the cluster\ninstances = 4\nlisten = [\"127.0.0.1:9\"]\n\n[env]\nA = \"instances = 1\"\n", string(b))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "the file keeps its mode")

	// No key yet: it goes before the first table.
	require.NoError(t, os.WriteFile(path, []byte("listen = [\"127.0.0.1:9\"]\n[env]\nA = \"1\"\n"), 0o644))
	cfg, err = SetInstances(path, auto)
	require.NoError(t, err)
	assert.True(t, cfg.Instances.Auto)
	assert.Equal(t, map[string]string{"A": "1"}, cfg.Env)
	b, _ = os.ReadFile(path)
	assert.Equal(t, "listen = [\"127.0.0.1:9\"]\ninstances = \"auto\"\n\n[env]\nA = \"1\"\n", string(b))

	// An invalid file is left alone.
	bad := "instances = 2\nforever = true\n"
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	_, err = SetInstances(path, four)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `unknown key "forever"`)
	b, _ = os.ReadFile(path)
	assert.Equal(t, bad, string(b))
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "no temporary file left")

	for _, s := range []string{"-1", "257", "lots", ""} {
		_, err := ParseInstances(s)
		assert.Error(t, err, s)
	}
}
