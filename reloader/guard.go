package reloader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"example.com/app/units"
)

// Crash-loop guard. systemd's own start limit cannot stop a crash-looping
// instance here: Sockets= makes app.socket trigger every instance, and an
// instance hitting its start limit fails the socket, closing it for every
// healthy instance (measured on systemd 252). Instead app@.service runs
// `app-reloader guard` as ExecCondition=: it records each start, and past
// the limit it exits 1, so systemd skips the start. The instance goes
// inactive, not failed, is not restarted, and the socket is untouched.

// DefaultGuardDir keeps each instance's recent start times, where only
// root can write them (or read them).
const DefaultGuardDir = units.PrivateDir + "/starts"

// Defaults of the guard: pm2's max_restarts, within a window.
const (
	DefaultMaxRestarts = 5
	DefaultGuardWindow = 60 * time.Second
)

// ErrCrashLoop is returned by [Guard] when an instance started too often.
var ErrCrashLoop = errors.New("crash loop")

// Guard records that unit starts at now, and returns [ErrCrashLoop] when it
// has started more than maxRestarts+1 times within window: the first start
// and maxRestarts restarts are allowed.
func Guard(dir, unit string, now time.Time, maxRestarts int, window time.Duration) (starts int, err error) {
	recent, err := readStarts(dir, unit, now, window)
	if err != nil {
		return 0, err
	}
	recent = append(recent, now)
	if err := writeStarts(dir, unit, recent); err != nil {
		return 0, err
	}
	if len(recent) > maxRestarts+1 {
		return len(recent), fmt.Errorf("%s started %d times within %s: %w", unit, len(recent), window, ErrCrashLoop)
	}
	return len(recent), nil
}

// Stopped is the guard's ExecStopPost= half: result is systemd's
// $SERVICE_RESULT for the run that ended. After a clean run ("success": the
// worker exited 0, as it does after draining on SIGTERM) the instance's
// starts are forgotten, so that stops and starts by hand, by
// `systemctl restart app.target` or by a change of socket mode never add up
// to a crash loop. Any other result (exit-code, signal, core-dump,
// timeout, oom-kill, ...) keeps them.
func Stopped(dir, unit, result string) error {
	if result != "success" {
		return nil
	}
	return ClearGuard(dir, unit)
}

// ClearGuard forgets an instance's starts: the reloader's deliberate
// starts and restarts do not count towards a crash loop.
func ClearGuard(dir, unit string) error {
	err := os.Remove(filepath.Join(dir, unit))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clear crash-loop record: %w", err)
	}
	return nil
}

func readStarts(dir, unit string, now time.Time, window time.Duration) ([]time.Time, error) {
	b, err := os.ReadFile(filepath.Join(dir, unit))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("crash-loop record: %w", err)
	}
	var out []time.Time
	for _, f := range strings.Fields(string(b)) {
		ns, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			continue // a damaged record forgets that entry, nothing more
		}
		if t := time.Unix(0, ns); now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out, nil
}

func writeStarts(dir, unit string, starts []time.Time) error {
	if err := privateDir(dir); err != nil {
		return fmt.Errorf("crash-loop record: %w", err)
	}
	var b strings.Builder
	for _, t := range starts {
		fmt.Fprintln(&b, t.UnixNano())
	}
	if err := units.WriteFileAtomic(filepath.Join(dir, unit), []byte(b.String()), 0o600, nil); err != nil {
		return fmt.Errorf("crash-loop record: %w", err)
	}
	return nil
}
