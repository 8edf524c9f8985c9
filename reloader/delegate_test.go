package reloader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"example.com/app/units"
	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeReloading answers a reload with result or err, after writing rep
// (if any) where the root rollout would.
type fakeReloading struct {
	result string
	err    error
	rep    *Report
	path   string
	unit   string
}

func (f *fakeReloading) Reload(_ context.Context, unit string) (string, error) {
	f.unit = unit
	if f.rep != nil {
		if err := SaveReport(f.path, *f.rep); err != nil {
			return "", err
		}
	}
	return f.result, f.err
}

func TestDelegate(t *testing.T) {
	ctx := context.Background()
	dbusErr := func(name string) error {
		return dbus.Error{Name: name, Body: []any{"refused"}}
	}
	for _, tc := range []struct {
		name    string
		fake    fakeReloading
		old     *Report // a report already there from an earlier rollout
		garbled bool    // the report file is not JSON
		wantErr error   // nil: success
		wantRep bool
	}{
		{name: "done", fake: fakeReloading{result: "done", rep: &Report{Started: time.Now(), OK: true}}, wantRep: true},
		{name: "rollout failed", fake: fakeReloading{result: "failed", rep: &Report{Started: time.Now(), Error: "app@1.service: failed"}}, wantErr: errAny, wantRep: true},
		{name: "polkit refused", fake: fakeReloading{err: dbusErr("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")}, wantErr: ErrNotAllowed},
		{name: "access denied", fake: fakeReloading{err: dbusErr("org.freedesktop.DBus.Error.AccessDenied")}, wantErr: ErrNotAllowed},
		{name: "cluster stopped", fake: fakeReloading{err: dbusErr("org.freedesktop.systemd1.UnitInactive")}, wantErr: ErrNotRunning},
		{name: "only an earlier report", fake: fakeReloading{result: "done"}, old: &Report{Started: time.Now().Add(-time.Hour), OK: true}, wantErr: errAny},
		{name: "job failed before a report", fake: fakeReloading{result: "timeout"}, wantErr: errAny},
		{name: "unreadable report", fake: fakeReloading{result: "done"}, garbled: true, wantErr: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "last-rollout.json")
			if tc.old != nil {
				require.NoError(t, SaveReport(path, *tc.old))
			}
			if tc.garbled {
				require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o644))
			}
			tc.fake.path = path
			rep, err := Delegate(ctx, &tc.fake, units.App, path)
			assert.Equal(t, ReloadUnit, tc.fake.unit)
			switch {
			case tc.wantErr == nil:
				assert.NoError(t, err)
			case tc.wantErr == errAny:
				assert.Error(t, err)
			default:
				assert.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), "refused", "systemd's own words are kept")
			}
			if tc.garbled {
				assert.ErrorContains(t, err, "its report is unreadable", "the read error is not swallowed")
			}
			assert.Equal(t, tc.wantRep, rep != nil)
		})
	}
}

var errAny = errors.New("any error")
