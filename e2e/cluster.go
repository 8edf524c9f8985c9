//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"example.com/app/reloader/journal"
	"example.com/app/units"
	"example.com/app/worker"
)

// Build compiles the commands into dir with the given version stamped in,
// and returns dir.
func Build(ctx context.Context, dir, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", dir+"/", "example.com/app/cmd/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", version, err, out)
	}
	return dir, nil
}

// Install puts the binaries built in bin, the generator and the unit files
// where the package puts them, without starting anything.
func (m *Machine) Install(bin string) error {
	put := map[string]string{
		"app":           "usr/bin/app",
		"app-reloader":  "usr/bin/app-reloader",
		"app-generator": "lib/systemd/system-generators/app-generator",
	}
	for src, dst := range put {
		if err := copyFile(filepath.Join(bin, src), filepath.Join(m.Root, dst), 0o755); err != nil {
			return fmt.Errorf("install %s: %w", src, err)
		}
	}
	js := filepath.Join(m.Root, worker.NodeJSPath)
	if err := os.MkdirAll(filepath.Dir(js), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(js, worker.NodeJS, 0o644); err != nil {
		return fmt.Errorf("install the Node worker: %w", err)
	}
	for name, b := range worker.NodeHelper {
		if err := copyBytes(b, filepath.Join(m.Root, worker.NodeHelperDir, name)); err != nil {
			return fmt.Errorf("install the Node helper: %w", err)
		}
	}
	return fs.WalkDir(units.Files, "systemd", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := units.Files.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(m.Root, units.UnitDir, filepath.Base(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// InstallWorker replaces /usr/bin/app, as an upgrade would.
func (m *Machine) InstallWorker(bin string) error {
	return copyFile(filepath.Join(bin, "app"), filepath.Join(m.Root, "usr/bin/app"), 0o755)
}

// WriteConfig writes /etc/app/app.toml, root's alone as the package
// installs it.
func (m *Machine) WriteConfig(toml string) error {
	p := filepath.Join(m.Root, units.DefaultConfigPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, []byte(toml), 0o640); err != nil {
		return err
	}
	return os.Chmod(p, 0o640)
}

func copyBytes(b []byte, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	// Write beside and rename, as dpkg does: a running binary is replaced,
	// not overwritten.
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// MainPID returns a unit's main PID, 0 when it has none.
func (m *Machine) MainPID(ctx context.Context, unit string) (int, error) {
	s, err := m.Run(ctx, "systemctl", "show", "-P", "MainPID", unit)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("MainPID of %s: %q", unit, s)
	}
	return pid, nil
}

// Instances names the units of instances 0 … n-1: app@0.service, ….
func Instances(n int) []string {
	us := make([]string, n)
	for i := range us {
		us[i] = units.Instance(i)
	}
	return us
}

// MainPIDs returns the main PID of app@0 … app@n-1.
func (m *Machine) MainPIDs(ctx context.Context, n int) (map[string]int, error) {
	return m.AppPIDs(ctx, units.App, n)
}

// AppPIDs returns the main PID of app c's instances 0 … n-1.
func (m *Machine) AppPIDs(ctx context.Context, c units.Cluster, n int) (map[string]int, error) {
	out := map[string]int{}
	for i := 0; i < n; i++ {
		pid, err := m.MainPID(ctx, c.Instance(i))
		if err != nil {
			return nil, err
		}
		out[c.Instance(i)] = pid
	}
	return out, nil
}

// ConfiguredInstances is the instance count the installed configuration
// asks for, as `app-reloader check --json` reports it.
func (m *Machine) ConfiguredInstances(ctx context.Context) (int, error) {
	out, err := m.Run(ctx, "app-reloader", "check", "--json")
	if err != nil {
		return 0, fmt.Errorf("%w: %s", err, out)
	}
	var check struct {
		Instances int `json:"instances"`
	}
	// Warnings come before the JSON, on stderr.
	if i := strings.Index(out, "{"); i > 0 {
		out = out[i:]
	}
	// The package's app's object comes first; other apps' follow.
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&check); err != nil {
		return 0, fmt.Errorf("app-reloader check --json: %q: %w", out, err)
	}
	return check.Instances, nil
}

// ActiveStates returns `systemctl is-active` of each unit.
func (m *Machine) ActiveStates(ctx context.Context, unitNames ...string) []string {
	out, _ := m.Run(ctx, append([]string{"systemctl", "is-active"}, unitNames...)...)
	return strings.Fields(out)
}

// WaitActive waits until every unit is active.
func (m *Machine) WaitActive(ctx context.Context, timeout time.Duration, unitNames ...string) error {
	deadline := time.Now().Add(timeout)
	for {
		states := m.ActiveStates(ctx, unitNames...)
		all := len(states) == len(unitNames)
		for _, s := range states {
			all = all && s == "active"
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, %v are %v", timeout, unitNames, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitInactive waits until no unit is active or activating (inactive,
// failed, or not loaded at all).
func (m *Machine) WaitInactive(ctx context.Context, timeout time.Duration, unitNames ...string) error {
	deadline := time.Now().Add(timeout)
	for {
		states := m.ActiveStates(ctx, unitNames...)
		done := len(states) == len(unitNames)
		for _, s := range states {
			done = done && (s == "inactive" || s == "failed")
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, %v are %v", timeout, unitNames, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// UnitEvent is one of the manager's messages about an instance.
type UnitEvent struct {
	At   time.Time
	Verb string // Stopping, Stopped, Starting, Started
	Unit string
}

// lifecycleVerbs are systemd's messages about a unit's life that the
// tests follow, by their MESSAGE_ID.
var lifecycleVerbs = map[string]string{
	journal.UnitStarting: "Starting",
	journal.UnitStarted:  "Started",
	journal.UnitStopping: "Stopping",
	journal.UnitStopped:  "Stopped",
}

// Events reads systemd's own record of the instances' starts and stops
// since a time: the manager's (PID 1's) entries with those MESSAGE_IDs,
// for units of the cluster's instances (the spare included).
func (m *Machine) Events(ctx context.Context, since time.Time) ([]UnitEvent, error) {
	var evs []UnitEvent
	sel := journal.Options{Lines: -1, Since: "@" + strconv.FormatFloat(float64(since.UnixMicro())/1e6, 'f', 6, 64), Matches: []string{"_PID=1"}}
	err := m.JournalReader().Read(ctx, sel, func(e journal.Entry) error {
		verb, ok := lifecycleVerbs[e.MessageID]
		_, instance := units.App.InstanceNumber(e.Unit)
		if ok && (instance || e.Unit == units.App.Spare()) {
			evs = append(evs, UnitEvent{At: e.Time, Verb: verb, Unit: e.Unit})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	return evs, nil
}

// MaxDown is the largest number of regular instances (not the spare) that
// were down at once (between Stopping and Started) according to the events.
func MaxDown(evs []UnitEvent) int {
	down := map[string]bool{}
	most := 0
	for _, e := range evs {
		if e.Unit == units.Spare {
			continue
		}
		switch e.Verb {
		case "Stopping", "Stopped", "Starting":
			down[e.Unit] = true
		case "Started":
			delete(down, e.Unit)
		}
		most = max(most, len(down))
	}
	return most
}

// MinUp is the fewest instances, the spare included, that were serving at
// once according to the events, from the set serving when they begin.
func MinUp(evs []UnitEvent, serving []string) int {
	up := map[string]bool{}
	for _, u := range serving {
		up[u] = true
	}
	least := len(up)
	for _, e := range evs {
		switch e.Verb {
		case "Stopping", "Stopped", "Starting":
			delete(up, e.Unit)
		case "Started":
			up[e.Unit] = true
		}
		least = min(least, len(up))
	}
	return least
}

// StartupTimes returns, per instance, the time from Starting to Started
// (its own start-up to READY=1) summed over the events.
func StartupTimes(evs []UnitEvent) map[string]time.Duration {
	starting := map[string]time.Time{}
	out := map[string]time.Duration{}
	for _, e := range evs {
		switch e.Verb {
		case "Starting":
			starting[e.Unit] = e.At
		case "Started":
			if t, ok := starting[e.Unit]; ok {
				out[e.Unit] += e.At.Sub(t)
				delete(starting, e.Unit)
			}
		}
	}
	return out
}

// HostPID is the host's PID of unit's main process: the process in the
// container's PID namespace whose innermost PID is the unit's MainPID.
func (m *Machine) HostPID(ctx context.Context, unit string) (int, error) {
	pid, err := m.MainPID(ctx, unit)
	if err != nil {
		return 0, err
	}
	if pid == 0 {
		return 0, fmt.Errorf("%s has no main process", unit)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", m.leader))
	if err != nil {
		return 0, fmt.Errorf("the container's PID namespace: %w", err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/pid")); err != nil || l != ns {
			continue
		}
		st, err := statusOf(n) // it may have exited meanwhile
		if err != nil {
			continue
		}
		if f := strings.Fields(st["NSpid"]); len(f) > 0 && f[len(f)-1] == strconv.Itoa(pid) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no host process for %s (pid %d in the container)", unit, pid)
}

// statusOf is the named fields of /proc/PID/status (the host sees the
// container's processes).
func statusOf(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, nil
}
