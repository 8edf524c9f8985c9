package reloader

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

func TestFileState(t *testing.T) {
	cfg, err := units.Parse("app.toml", []byte("instances = 2\n"))
	require.NoError(t, err)
	gen, etc, lib := t.TempDir(), t.TempDir(), t.TempDir()
	source := filepath.Join(etc, "app.toml")
	require.NoError(t, os.WriteFile(source, []byte("instances = 2\n"), 0o640))
	require.NoError(t, units.Generate(cfg, source, gen))
	s := &FileState{Config: cfg, Source: source, GeneratorDir: gen, SearchPaths: []string{etc},
		Path: filepath.Join(t.TempDir(), "run", "units.fingerprint"), AppliedPath: filepath.Join(lib, "applied.toml")}

	same, why, err := s.Unchanged()
	require.NoError(t, err)
	assert.False(t, same)
	assert.Equal(t, "no daemon-reload by app-reloader since boot", why)

	s.Reloaded()
	same, why, err = s.Unchanged()
	require.NoError(t, err)
	assert.True(t, same, why)
	applied, err := os.ReadFile(s.AppliedPath)
	require.NoError(t, err, "a daemon-reload keeps the configuration it applied")
	assert.Equal(t, "instances = 2\n", string(applied))
	fi, err := os.Stat(s.AppliedPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	require.NoError(t, os.MkdirAll(filepath.Join(etc, "app@.service.d"), 0o755))
	same, why, err = s.Unchanged()
	require.NoError(t, err)
	assert.False(t, same)
	assert.Equal(t, "unit files changed since the last daemon-reload", why)
	s.Reloaded()

	s.Config.Instances = units.Instances{N: 3}
	same, why, err = s.Unchanged()
	require.NoError(t, err)
	assert.False(t, same)
	assert.Contains(t, why, "the configuration changed: ")
}
