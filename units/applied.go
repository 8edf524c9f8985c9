package units

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// AppliedPath keeps a copy of the last configuration a rollout applied
// (root only: it holds [env]). When app.toml no longer validates, the
// generator falls back to it, so that a daemon-reload by anyone (another
// package's installation, say) keeps the running cluster's socket and
// settings instead of the shipped defaults.
const AppliedPath = "/var/lib/app/applied.toml"

// SaveApplied copies the configuration file at source to path, readable
// by root only, if it validates. A missing source is the default
// configuration: the copy is removed.
func SaveApplied(source, path string) error {
	data, err := os.ReadFile(source)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("save applied configuration: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("save applied configuration: %w", err)
	}
	if _, err := Parse(source, data); err != nil {
		return fmt.Errorf("save applied configuration: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save applied configuration: %w", err)
	}
	if err := WriteFileAtomic(path, data, 0o600, nil); err != nil {
		return fmt.Errorf("save applied configuration: %w", err)
	}
	return nil
}

// LoadForGenerator is what the generator generates from: the
// configuration at path, or, when that does not validate, the last one a
// rollout applied (kept at applied), with the reason it was not used. An
// error means neither can be used.
func LoadForGenerator(path, applied string) (cfg Config, source, fallback string, err error) {
	cfg, err = Load(path)
	if err == nil {
		return cfg, path, "", nil
	}
	data, aerr := os.ReadFile(applied)
	if aerr != nil {
		return Config{}, "", "", err
	}
	acfg, aerr := Parse(applied, data)
	if aerr != nil {
		return Config{}, "", "", errors.Join(err, aerr)
	}
	return acfg, applied, err.Error(), nil
}
