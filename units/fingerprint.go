package units

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// SearchPaths are the system manager's unit directories whose content an
// operator or a package changes (systemd.unit(5)). The generator's output
// is compared on its own ([Generated]); transient units come and go with
// every rollout.
var SearchPaths = []string{
	"/etc/systemd/system.control", "/run/systemd/system.control",
	"/etc/systemd/system", "/etc/systemd/system.attached",
	"/run/systemd/system", "/run/systemd/system.attached",
	"/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system",
}

// ours matches what in a unit directory can change the cluster's units:
// their files and drop-in directories, and the drop-ins every service,
// socket or target gets ("service.d", "app-.service.d").
var ours = regexp.MustCompile(`^(app[-@.].*|(service|socket|target)\.d)$`)

// Fingerprint identifies the state on disk of every file that makes up the
// cluster's units in dirs (SearchPaths when nil): names, sizes and
// modification times. Equal fingerprints mean a daemon-reload would load
// the same units. Unlike systemd's NeedDaemonReload, it sees a drop-in
// directory created since the last daemon-reload (measured on systemd 252:
// NeedDaemonReload stays "no").
func Fingerprint(dirs []string) (string, error) {
	if dirs == nil {
		dirs = SearchPaths
	}
	var lines []string
	add := func(p string, fi fs.FileInfo) {
		lines = append(lines, fmt.Sprintf("%s %d %d %v", p, fi.Size(), fi.ModTime().UnixNano(), fi.Mode()))
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("fingerprint units: %w", err)
		}
		for _, e := range entries {
			if !ours.MatchString(e.Name()) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p) // through symlinks: a link's target counts
			if err != nil {
				lines = append(lines, p+" dangling")
				continue
			}
			add(p, fi)
			if !fi.IsDir() {
				continue
			}
			inner, err := os.ReadDir(p)
			if err != nil {
				return "", fmt.Errorf("fingerprint units: %w", err)
			}
			for _, f := range inner {
				q := filepath.Join(p, f.Name())
				if fi, err := os.Stat(q); err == nil {
					add(q, fi)
				} else {
					lines = append(lines, q+" dangling")
				}
			}
		}
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return fmt.Sprintf("%x", sum), nil
}
