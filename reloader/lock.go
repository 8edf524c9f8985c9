package reloader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"example.com/app/units"
)

// DefaultLockPath serialises rollouts on one machine. It is in a
// directory only root can open: anyone who can open a file can flock(2)
// it, and so would hold every rollout up.
const DefaultLockPath = units.PrivateDir + "/reload.lock"

// LockPath serialises app c's rollouts: [DefaultLockPath] for the
// package's app. Apps roll independently of each other.
func LockPath(c units.Cluster) string {
	if c.Main() {
		return DefaultLockPath
	}
	return units.PrivateDir + "/reload-" + c.App + ".lock"
}

// ErrBusy is returned by [Lock] when another rollout holds the lock.
var ErrBusy = errors.New("another rollout is running")

// ErrNotPrivate is wrapped by the error about a directory for root's own
// records that others could open or replace.
var ErrNotPrivate = errors.New("not private to its owner")

// Lock takes the rollout lock at path, an flock(2) that the kernel releases
// when its holder exits, however it exits. It returns the function that
// releases it, or [ErrBusy] naming the holder's PID. The lock's directory
// is made private to the caller (0700) first; one that is a symlink or
// belongs to someone else is refused.
func Lock(path string) (unlock func(), err error) {
	if err := privateDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (pid %s holds %s)", ErrBusy, strings.TrimSpace(string(holder)), path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}

// LockWait is [Lock], waiting up to wait for a rollout that holds the
// lock to end; waiting, if set, is told once who holds it. After wait it
// returns ErrBusy as Lock does.
func LockWait(path string, wait time.Duration, waiting func(holder string)) (unlock func(), err error) {
	deadline := time.Now().Add(wait)
	told := false
	for {
		unlock, err := Lock(path)
		if !errors.Is(err, ErrBusy) || !time.Now().Before(deadline) {
			return unlock, err
		}
		if !told && waiting != nil {
			waiting(err.Error())
			told = true
		}
		time.Sleep(min(200*time.Millisecond, time.Until(deadline)))
	}
}

// privateDir makes dir (and any missing parent) a directory that only
// this process's user can open: created 0700, or, if it exists, a real
// directory owned by that user, whose mode is then narrowed to 0700.
func privateDir(dir string) error {
	// The parents as tmpfiles.d makes them (0755): /run/app also holds
	// the instances' probe directories, which a 0700 parent would put
	// out of their reach (every instance failed to start, measured, when
	// a rollout ran before systemd-tmpfiles had made /run/app).
	// Chmod: whatever the umask.
	if parent := filepath.Dir(dir); !exists(parent) {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(parent, 0o755); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s: %w: it is a %s, not a directory", dir, ErrNotPrivate, fileType(fi.Mode()))
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%s: %w: it belongs to uid %d", dir, ErrNotPrivate, st.Uid)
	case fi.Mode().Perm()&0o077 != 0:
		return os.Chmod(dir, 0o700)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
