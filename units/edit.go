package units

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

var (
	instancesLine = regexp.MustCompile(`^\s*instances\s*=`)
	tableHeader   = regexp.MustCompile(`^\s*\[`)
)

// SetInstances rewrites the instances key of the configuration file at
// path to n (a number, or "auto"), keeping every other line and comment,
// and returns the configuration it now holds. A file that does not exist
// yet gets just that key. Nothing is written when the file or the result
// does not validate.
func SetInstances(path string, n Instances) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return Config{}, fmt.Errorf("set instances: %w", err)
	}
	if _, err := Parse(path, data); err != nil {
		return Config{}, fmt.Errorf("set instances: %s must validate first: %w", path, err)
	}
	value := "instances = " + n.TOML()
	lines := strings.SplitAfter(string(data), "\n")
	done := false
	for i, l := range lines {
		if tableHeader.MatchString(l) {
			// Top-level keys come before the first table.
			lines = append(lines[:i], append([]string{value + "\n\n"}, lines[i:]...)...)
			done = true
			break
		}
		if instancesLine.MatchString(l) {
			lines[i] = value + "\n"
			done = true
			break
		}
	}
	out := strings.Join(lines, "")
	if !done {
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		out += value + "\n"
	}
	cfg, err := Parse(path, []byte(out))
	if err != nil {
		return Config{}, fmt.Errorf("set instances: %w", err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := WriteFileAtomic(path, []byte(out), mode, nil); err != nil {
		return Config{}, fmt.Errorf("set instances: %w", err)
	}
	return cfg, nil
}
