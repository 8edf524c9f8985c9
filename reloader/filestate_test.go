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
	gen, etc := t.TempDir(), t.TempDir()
	require.NoError(t, units.Generate(cfg, "/etc/app/app.toml", gen))
	s := &FileState{Config: cfg, Source: "/etc/app/app.toml", GeneratorDir: gen, SearchPaths: []string{etc},
		Path: filepath.Join(t.TempDir(), "run", "units.fingerprint")}

	same, why, err := s.Unchanged()
	require.NoError(t, err)
	assert.False(t, same)
	assert.Equal(t, "no daemon-reload by app-reloader since boot", why)

	s.Reloaded()
	same, why, err = s.Unchanged()
	require.NoError(t, err)
	assert.True(t, same, why)

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
