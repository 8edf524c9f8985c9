package reloader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"example.com/app/units"
)

// DefaultFileStatePath keeps the fingerprint of the unit files as the last
// daemon-reload by app-reloader loaded them. It is in /run: after a boot,
// the first rollout always reloads.
const DefaultFileStatePath = units.PrivateDir + "/units.fingerprint"

// FileState tells a rollout whether a daemon-reload would change anything
// ([Reloader.Unchanged], [Reloader.Reloaded]).
type FileState struct {
	Config units.Config
	Source string // the configuration file, as the generator names it
	// GeneratorDir, SearchPaths and Path default to units.GeneratorDir,
	// units.SearchPaths and DefaultFileStatePath.
	GeneratorDir string
	SearchPaths  []string
	Path         string
	// AppliedPath is where the configuration a daemon-reload applied is
	// kept for the generator to fall back to; "" is units.AppliedPath.
	AppliedPath string

	seen string // the fingerprint Unchanged computed
}

// Unchanged implements [Reloader.Unchanged]: the generator's output matches
// the configuration, and the unit files are as the last daemon-reload by
// app-reloader found them. systemd's own NeedDaemonReload misses a new
// drop-in directory, so it is not enough.
func (s *FileState) Unchanged() (bool, string, error) {
	gen := s.GeneratorDir
	if gen == "" {
		gen = units.GeneratorDir
	}
	same, why, err := units.Generated(s.Config, s.Source, gen)
	if err != nil || !same {
		return false, "the configuration changed: " + why, err
	}
	if s.seen, err = units.Fingerprint(s.SearchPaths); err != nil {
		return false, "", err
	}
	saved, err := os.ReadFile(s.path())
	if errors.Is(err, fs.ErrNotExist) {
		return false, "no daemon-reload by app-reloader since boot", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("unit file state: %w", err)
	}
	if string(saved) != s.seen {
		return false, "unit files changed since the last daemon-reload", nil
	}
	return true, "", nil
}

// Reloaded implements [Reloader.Reloaded]: it records the state of the
// unit files that the daemon-reload just loaded, and keeps a copy of the
// configuration it applied (see [units.AppliedPath]).
func (s *FileState) Reloaded() {
	applied := s.AppliedPath
	if applied == "" {
		applied = units.AppliedPath
	}
	// Best effort: without it, a bad app.toml at the next daemon-reload
	// falls back to the shipped defaults, as before.
	_ = units.SaveApplied(s.Source, applied)
	fp := s.seen
	if fp == "" {
		var err error
		if fp, err = units.Fingerprint(s.SearchPaths); err != nil {
			return
		}
	}
	// Best effort: without the record, the next rollout reloads again.
	if err := privateDir(filepath.Dir(s.path())); err == nil {
		_ = os.WriteFile(s.path(), []byte(fp), 0o600)
	}
}

func (s *FileState) path() string {
	if s.Path == "" {
		return DefaultFileStatePath
	}
	return s.Path
}
