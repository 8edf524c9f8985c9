package reloader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"

	"example.com/app/units"
)

// DeployGroup is the group whose members may roll the cluster without
// root: the package creates it, and its polkit rule lets members reload
// [ReloadUnit] and nothing else.
const DeployGroup = "app-deploy"

// ReloadUnit is the unit whose reload runs a rollout as root
// (ExecReload=app-reloader reload): what `systemctl reload-or-restart
// app.target` reloads, and what a member of [DeployGroup] asks for.
const ReloadUnit = units.Reload

// ErrNotAllowed is returned by [Delegate] when systemd (polkit) refused
// the reload.
var ErrNotAllowed = errors.New("not allowed")

// ErrNotRunning is returned by [Delegate] when the cluster is stopped:
// there is nothing to roll, and starting it is for root.
var ErrNotRunning = errors.New("the cluster is not running")

// Reloading is what [Delegate] needs from systemd.
type Reloading interface {
	// Reload enqueues a reload job for unit and waits for its result:
	// "done", "failed", "canceled", "timeout", …
	Reload(ctx context.Context, unit string) (string, error)
}

// Delegate rolls app c for a caller who is not root: it has systemd
// reload c's reload unit ([ReloadUnit] for the package's app), whose ExecReload= runs the rollout as root, waits
// for it, and returns the rollout's report as saved at reportPath. The
// error says whether polkit refused ([ErrNotAllowed]), the cluster is
// stopped ([ErrNotRunning]) or the rollout failed (with the report, as
// for [Reloader.Reload]).
func Delegate(ctx context.Context, sd Reloading, c units.Cluster, reportPath string) (*Report, error) {
	asked := time.Now()
	return DelegateWith(ctx, sd, c, reportPath, func() (*Report, error) { return LoadReport(reportPath) },
		func(rep *Report) bool { return !rep.Started.Before(asked.Add(-time.Second)) })
}

// DelegateWith is [Delegate] with the report read by load (reportPath
// only names it in errors), and fresh telling this rollout's report from
// an earlier one: for a report on another machine, whose clock is not
// this one's.
func DelegateWith(ctx context.Context, sd Reloading, c units.Cluster, reportPath string, load func() (*Report, error), fresh func(*Report) bool) (*Report, error) {
	unit := c.ReloadUnit()
	result, err := sd.Reload(ctx, unit)
	if err != nil {
		var derr dbus.Error
		if errors.As(err, &derr) {
			switch derr.Name {
			case "org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired":
				return nil, fmt.Errorf("%w to reload %s: run app-reloader as root, or as a member of the %s group (the package's polkit rule lets them do this and nothing else): %w", ErrNotAllowed, unit, DeployGroup, err)
			case "org.freedesktop.systemd1.UnitInactive", "org.freedesktop.systemd1.NoSuchUnit":
				return nil, fmt.Errorf("%w (%s is not active): as root, start it with: systemctl start %s: %w", ErrNotRunning, unit, c.Target(), err)
			}
		}
		return nil, err
	}
	rep, lerr := load()
	if lerr == nil && rep != nil && !fresh(rep) {
		rep = nil // an earlier rollout's
	}
	switch {
	case result == "done" && rep != nil:
		return rep, nil
	case result == "done" && lerr != nil:
		return nil, fmt.Errorf("reload %s: done, but its report is unreadable: %w", unit, lerr)
	case result == "done":
		return nil, fmt.Errorf("reload %s: done, but no report of it in %s", unit, reportPath)
	case rep != nil && !rep.OK:
		return rep, fmt.Errorf("rollout failed: %s", rep.Error)
	default:
		return rep, fmt.Errorf("reload %s: job %s (see: journalctl -u %s)", unit, result, unit)
	}
}
