package reloader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSystemd is an in-memory service manager for the engine's logic. The
// e2e tests run the same engine against a real systemd.
type fakeSystemd struct {
	units   map[string]*Unit
	calls   []string
	nextPID uint32
	result  map[string]string // job result for a unit's start/restart
	samePID map[string]bool   // restart keeps the PID
	reload  error
	// crashAfter[u] = k: k reads of u's state after its restart, systemd
	// has restarted it (new PID, one more restart): a crash after ready.
	crashAfter map[string]int
	crashIn    map[string]int
	// onRestart runs when a unit's restart is requested.
	onRestart func(unit string)
	tetherErr error
}

func newFake(running ...string) *fakeSystemd {
	f := &fakeSystemd{units: map[string]*Unit{}, nextPID: 100, result: map[string]string{}, samePID: map[string]bool{},
		crashAfter: map[string]int{}, crashIn: map[string]int{}}
	for _, u := range running {
		f.nextPID++
		f.units[u] = &Unit{Name: u, ActiveState: "active", SubState: "running", MainPID: f.nextPID}
	}
	return f
}

func (f *fakeSystemd) DaemonReload(context.Context) error {
	f.calls = append(f.calls, "daemon-reload")
	return f.reload
}

func (f *fakeSystemd) up(unit string, keepPID bool) string {
	if r, ok := f.result[unit]; ok {
		f.units[unit] = &Unit{Name: unit, ActiveState: "failed", SubState: "failed", Result: "exit-code", ExitCode: 3}
		return r
	}
	u := f.unit(unit)
	if !keepPID {
		f.nextPID++
		u.MainPID = f.nextPID
	}
	u.ActiveState, u.SubState = "active", "running"
	return "done"
}

func (f *fakeSystemd) unit(name string) *Unit {
	if f.units[name] == nil {
		f.units[name] = &Unit{Name: name, ActiveState: "inactive", SubState: "dead"}
	}
	return f.units[name]
}

func (f *fakeSystemd) Start(_ context.Context, unit string) (string, error) {
	f.calls = append(f.calls, "start "+unit)
	f.crashIn[unit] = f.crashAfter[unit]
	return f.up(unit, false), nil
}

func (f *fakeSystemd) Restart(_ context.Context, unit string) (string, error) {
	f.calls = append(f.calls, "restart "+unit)
	f.crashIn[unit] = f.crashAfter[unit]
	if f.onRestart != nil {
		f.onRestart(unit)
	}
	return f.up(unit, f.samePID[unit]), nil
}

func (f *fakeSystemd) Stop(_ context.Context, unit string) (string, error) {
	f.calls = append(f.calls, "stop "+unit)
	u := f.unit(unit)
	u.ActiveState, u.SubState, u.MainPID = "inactive", "dead", 0
	return "done", nil
}

func (f *fakeSystemd) ResetFailed(_ context.Context, unit string) error {
	f.calls = append(f.calls, "reset-failed "+unit)
	return nil
}

func (f *fakeSystemd) Unit(_ context.Context, unit string) (Unit, error) {
	if f.crashIn[unit] > 0 {
		f.crashIn[unit]--
		if f.crashIn[unit] == 0 {
			u := f.unit(unit)
			f.nextPID++
			u.MainPID, u.NRestarts, u.Result = f.nextPID, u.NRestarts+1, "signal"
		}
	}
	return *f.unit(unit), nil
}

func (f *fakeSystemd) List(_ context.Context, pattern string) ([]string, error) {
	var out []string
	for name := range f.units {
		if ok, _ := filepath.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	return out, nil
}

func (f *fakeSystemd) Tether(_ context.Context, scope string) (func(context.Context) error, error) {
	f.calls = append(f.calls, "tether "+scope)
	if f.tetherErr != nil {
		return nil, f.tetherErr
	}
	return func(context.Context) error {
		f.calls = append(f.calls, "untether "+scope)
		return nil
	}, nil
}

func (f *fakeSystemd) Journal(_ context.Context, unit string, n int) ([]string, error) {
	// As journalctl shows them, the service manager's line last.
	return []string{
		"Dec 02 01:00:00.000001 vm worker[42]: " + unit + ": boom",
		"Dec 02 01:00:00.000002 vm systemd[1]: " + unit + ": Failed with result 'exit-code'.",
	}, nil
}

// mutations are the calls that change something, in order.
func (f *fakeSystemd) mutations() []string {
	var out []string
	for _, c := range f.calls {
		if !strings.HasPrefix(c, "reset-failed") {
			out = append(out, c)
		}
	}
	return out
}

func TestReloadRestartsOneAtATime(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	var events []Event
	r := New(Options{Systemd: f, Progress: func(e Event) { events = append(events, e) }})
	rep, err := r.Reload(context.Background(), 3)
	require.NoError(t, err)
	assert.True(t, rep.OK)
	assert.Equal(t, []string{"daemon-reload", "restart app@0.service", "restart app@1.service", "restart app@2.service"}, f.mutations())
	assert.Equal(t, []string{
		"reset-failed app@0.service", "restart app@0.service",
		"reset-failed app@1.service", "restart app@1.service",
		"reset-failed app@2.service", "restart app@2.service",
	}, f.calls[1:], "the start limit is reset before each deliberate restart")
	require.Len(t, rep.Steps, 3)
	for i, s := range rep.Steps {
		assert.Equal(t, uint32(101+i), s.OldPID)
		assert.NotEqual(t, s.OldPID, s.NewPID)
	}
	require.Len(t, events, 6)
	assert.False(t, events[0].Done)
	assert.True(t, events[1].Done)
	assert.Equal(t, 3, events[5].Index)
	assert.Equal(t, 3, events[5].Total)
}

func TestReloadStartsMissingAndStopsExtra(t *testing.T) {
	f := newFake("app@0.service", "app@3.service", "app@2.service", "other@1.service")
	f.units["app@1.service"] = &Unit{Name: "app@1.service", ActiveState: "failed", Result: "start-limit-hit"}
	rep, err := r(f).Reload(context.Background(), 2)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"daemon-reload",
		"restart app@0.service",
		"start app@1.service", // failed by its start limit: reset, then started
		"stop app@2.service",
		"stop app@3.service",
	}, f.mutations())
	assert.Equal(t, ActionStart, rep.Steps[1].Action)
	assert.Equal(t, ActionStop, rep.Steps[2].Action)
}

func TestReloadHaltsOnFirstFailure(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	f.result["app@1.service"] = "failed"
	var events []Event
	rr := r(f)
	rr.o.Progress = func(e Event) { events = append(events, e) }
	rep, err := rr.Reload(context.Background(), 3)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRolloutFailed)
	assert.Contains(t, err.Error(), "restart app@1.service: job failed (result exit-code, exit status 3)")
	assert.Equal(t, []string{"daemon-reload", "restart app@0.service", "restart app@1.service"}, f.mutations(),
		"app@2 must not be touched")
	assert.Equal(t, uint32(103), f.units["app@2.service"].MainPID, "app@2 keeps its old process")
	require.NotNil(t, rep.Failure)
	assert.Equal(t, "app@1.service", rep.Failure.Unit)
	assert.Equal(t, []string{"Dec 02 01:00:00.000001 vm worker[42]: app@1.service: boom", "Dec 02 01:00:00.000002 vm systemd[1]: app@1.service: Failed with result 'exit-code'."}, rep.Failure.Journal)
	assert.False(t, rep.OK)
	// As view.WriteEvent shows it: "[2/3] app@1.service: FAILED after …".
	last := events[len(events)-1]
	assert.Equal(t, Event{Step: rep.Steps[1], Done: true, Index: 2, Total: 3}, last)
	assert.Contains(t, last.Error, "job failed")
	// As view.WriteReport shows it (see view's TestWriteReport).
	assert.Equal(t, "job failed (result exit-code, exit status 3)", rep.Failure.Reason)
}

func TestHoldCatchesCrashAfterReady(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	f.crashAfter["app@1.service"] = 4 // ready, then dies while held
	rr := New(Options{Systemd: f, Hold: 300 * time.Millisecond, HoldPoll: 10 * time.Millisecond})
	rep, err := rr.Reload(context.Background(), 3)
	require.ErrorIs(t, err, ErrRolloutFailed)
	assert.Contains(t, err.Error(), "restart app@1.service: died during the 300ms hold after READY=1: now active/running, pid 106, 1 restarts (result signal)")
	assert.Equal(t, []string{"daemon-reload", "restart app@0.service", "restart app@1.service"}, f.mutations(), "app@2 untouched")
	require.Len(t, rep.Steps, 2)
	assert.GreaterOrEqual(t, rep.Steps[0].Took, 300*time.Millisecond, "app@0 was held the full period")
	assert.Less(t, rep.Steps[1].Took, 300*time.Millisecond, "the crash ends app@1's hold early")
}

func TestHoldPassesSteadyInstances(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	var events []Event
	rr := New(Options{Systemd: f, Hold: 50 * time.Millisecond, HoldPoll: 10 * time.Millisecond,
		Progress: func(e Event) { events = append(events, e) }})
	rep, err := rr.Reload(context.Background(), 2)
	require.NoError(t, err)
	for _, s := range rep.Steps {
		assert.GreaterOrEqual(t, s.Took-s.Ready, 50*time.Millisecond, "%s held", s.Unit)
	}
	// view.WriteEvent says ", stayed up …" of a step whose Took exceeds
	// its Ready by a millisecond or more.
	assert.GreaterOrEqual(t, events[len(events)-1].Took-events[len(events)-1].Ready, time.Millisecond)
}

func TestInterruptFinishesCurrentInstanceOnly(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service", "app@3.service")
	ctx, cancel := context.WithCancel(context.Background())
	f.onRestart = func(unit string) {
		if unit == "app@1.service" {
			cancel() // SIGTERM arrives while app@1 restarts
		}
	}
	rep, err := r(f).Reload(ctx, 3)
	require.ErrorIs(t, err, ErrInterrupted)
	assert.Contains(t, err.Error(), "before app@2.service (2 of 4 steps done); run the reload again")
	assert.Equal(t, []string{"daemon-reload", "restart app@0.service", "restart app@1.service"}, f.mutations(),
		"app@1 is finished, app@2 and the extra app@3 are not touched")
	require.Len(t, rep.Steps, 2)
	assert.Empty(t, rep.Steps[1].Error, "the instance in progress completed")
	assert.False(t, rep.OK)
	// What view shows as "rollout NOT complete": not OK, no failure.
	assert.Nil(t, rep.Failure)
	assert.NotEmpty(t, rep.Error)

	// Running it again completes the rollout.
	f.onRestart = nil
	rep, err = r(f).Reload(context.Background(), 3)
	require.NoError(t, err)
	assert.Equal(t, []string{"restart", "restart", "restart", "stop"}, actionsOf(rep))
}

func actionsOf(rep Report) []string {
	var out []string
	for _, s := range rep.Steps {
		out = append(out, s.Action)
	}
	return out
}

func TestReloadSamePIDIsFailure(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	f.samePID["app@0.service"] = true
	_, err := r(f).Reload(context.Background(), 2)
	assert.ErrorIs(t, err, ErrRolloutFailed)
	assert.ErrorContains(t, err, "main PID 101 did not change")
	assert.Equal(t, []string{"daemon-reload", "restart app@0.service"}, f.mutations())
}

func TestReloadDaemonReloadFailureTouchesNothing(t *testing.T) {
	f := newFake("app@0.service")
	f.reload = errors.New("access denied")
	_, err := r(f).Reload(context.Background(), 1)
	assert.ErrorContains(t, err, "access denied")
	assert.Equal(t, []string{"daemon-reload"}, f.calls)
}

func TestReloadRefusesZero(t *testing.T) {
	f := newFake()
	_, err := r(f).Reload(context.Background(), 0)
	assert.ErrorContains(t, err, "want at least 1 instance")
	assert.Empty(t, f.calls)
}

func TestStatus(t *testing.T) {
	f := newFake("app@0.service", "app@5.service", "app@spare.service")
	f.units["app.socket"] = &Unit{Name: "app.socket", ActiveState: "active", SubState: "listening"}
	f.units["app@0.service"].Since = time.Now().Add(-90 * time.Second)
	f.units["app@0.service"].Memory = 12 << 20
	f.units["app@0.service"].StatusText = "serving version 1"
	st, err := r(f).Status(context.Background(), 2)
	require.NoError(t, err)
	var names []string
	for _, u := range st.Instances {
		names = append(names, u.Name)
	}
	assert.Equal(t, []string{"app@0.service", "app@1.service", "app@5.service", "app@spare.service"}, names,
		"configured instances, any other running one, and the spare of a rollout in progress")

	assert.Equal(t, "active/listening", st.Socket.StateText())
	assert.Equal(t, "inactive/dead", st.Instances[1].StateText())
	assert.Equal(t, uint64(12<<20), st.Instances[0].Memory)
	assert.Empty(t, st.Sockets, "no instance sockets with one shared socket")

	f.units["app@0.socket"] = &Unit{Name: "app@0.socket", ActiveState: "active"}
	f.units["app@1.socket"] = &Unit{Name: "app@1.socket", ActiveState: "inactive"}
	st, err = r(f).Status(context.Background(), 2)
	require.NoError(t, err)
	require.Len(t, st.Sockets, 2)
	assert.Equal(t, "app@0.socket", st.Sockets[0].Name)
	assert.Equal(t, "inactive", st.Sockets[1].ActiveState)
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "reload.lock")
	unlock, err := Lock(path)
	require.NoError(t, err)
	_, err = Lock(path)
	assert.ErrorIs(t, err, ErrBusy)
	assert.ErrorContains(t, err, fmt.Sprintf("pid %d holds", os.Getpid()))
	unlock()
	unlock2, err := Lock(path)
	require.NoError(t, err, "the lock is free again once released")
	unlock2()

	// Only its owner can open the lock (anyone who can open a file can
	// flock it): the directory is 0700, the file 0600, even where they
	// were made wider before.
	for _, p := range []string{filepath.Dir(path), path} {
		require.NoError(t, os.Chmod(p, 0o777))
	}
	unlock3, err := Lock(path)
	require.NoError(t, err)
	unlock3()
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode().Perm(), p)
	}

	// A symlink in place of the directory or the file is refused.
	elsewhere := t.TempDir()
	linked := filepath.Join(t.TempDir(), "run")
	require.NoError(t, os.Symlink(elsewhere, linked))
	_, err = Lock(filepath.Join(linked, "reload.lock"))
	assert.ErrorIs(t, err, ErrNotPrivate)
	require.NoError(t, os.Symlink(filepath.Join(elsewhere, "target"), filepath.Join(filepath.Dir(path), "other.lock")))
	_, err = Lock(filepath.Join(filepath.Dir(path), "other.lock"))
	assert.ErrorIs(t, err, syscall.ELOOP)
	assert.NoFileExists(t, filepath.Join(elsewhere, "target"), "nothing created through the link")
}

func TestReportRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "last.json")
	got, err := LoadReport(path)
	require.NoError(t, err)
	assert.Nil(t, got)
	rep := Report{Started: time.Now().Round(0).UTC(), Took: time.Second, Instances: 2, Failure: &Failure{Unit: "app@1.service", Reason: "job timeout"}}
	require.NoError(t, SaveReport(path, rep))
	got, err = LoadReport(path)
	require.NoError(t, err)
	assert.Equal(t, rep.Failure, got.Failure)
	assert.True(t, rep.Started.Equal(got.Started))
}

func r(f *fakeSystemd) *Reloader { return New(Options{Systemd: f}) }

// fakeFiles is the state of the unit files as a rollout asks for it.
type fakeFiles struct {
	unchanged func() (bool, string, error)
	reloaded  int
}

func (f *fakeFiles) Unchanged() (bool, string, error) {
	if f.unchanged == nil {
		return false, "no way to tell", nil
	}
	return f.unchanged()
}

func (f *fakeFiles) Reloaded() { f.reloaded++ }

func TestDaemonReloadSkippedWhenNothingChanged(t *testing.T) {
	same := func() (bool, string, error) { return true, "", nil }
	f := newFake("app@0.service", "app@1.service")
	files := &fakeFiles{unchanged: same}
	rr := New(Options{Systemd: f, Files: files})
	rep, err := rr.Reload(context.Background(), 2)
	require.NoError(t, err)
	assert.True(t, rep.Unchanged)
	assert.Zero(t, files.reloaded)
	assert.Zero(t, rep.DaemonReload)
	assert.Equal(t, []string{"restart app@0.service", "restart app@1.service"}, f.mutations(), "no daemon-reload")

	for name, setup := range map[string]func(f *fakeSystemd, files *fakeFiles){
		"config changed": func(f *fakeSystemd, files *fakeFiles) {
			files.unchanged = func() (bool, string, error) { return false, "app@.service.d/50-app-toml.conf differs", nil }
		},
		"a unit file changed": func(f *fakeSystemd, files *fakeFiles) { f.units["app@1.service"].NeedDaemonReload = true },
		"the socket changed":  func(f *fakeSystemd, files *fakeFiles) { f.unit("app.socket").NeedDaemonReload = true },
		"cannot compare":      func(f *fakeSystemd, files *fakeFiles) { files.unchanged = nil },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake("app@0.service", "app@1.service")
			files := &fakeFiles{unchanged: same}
			setup(f, files)
			rep, err := New(Options{Systemd: f, Files: files}).Reload(context.Background(), 2)
			require.NoError(t, err)
			assert.False(t, rep.Unchanged)
			assert.Equal(t, "daemon-reload", f.mutations()[0])
			assert.Equal(t, 1, files.reloaded, "the state loaded is recorded")
		})
	}
}

func TestListenChangeRefused(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	f.units["app.socket"] = &Unit{Name: "app.socket", ActiveState: "active", Listen: []string{"[::]:8080", "127.0.0.1:9000"}}
	rr := New(Options{Systemd: f, Listen: []string{"127.0.0.1:9000", "8080"}})
	_, err := rr.Reload(context.Background(), 2)
	require.NoError(t, err, "the same addresses, written the config's way")

	f.calls = nil
	rr.o.Listen = []string{"127.0.0.1:9001"}
	_, err = rr.Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrListenChanged)
	assert.Contains(t, err.Error(), "app.socket listens on [::]:8080, 127.0.0.1:9000 and the configuration says 127.0.0.1:9001")
	assert.Contains(t, err.Error(), "systemctl daemon-reload && systemctl stop app.target app.socket 'app@*.socket' && systemctl start app.target")
	assert.Empty(t, f.mutations(), "nothing touched, not even a daemon-reload")

	f.units["app.socket"].ActiveState = "inactive"
	_, err = rr.Reload(context.Background(), 2)
	require.NoError(t, err, "a stopped socket takes the new addresses when it starts")
}

func TestSocketModeSwitchRefused(t *testing.T) {
	// From one shared socket to one per instance.
	f := newFake("app@0.service", "app@1.service")
	f.units["app.socket"] = &Unit{Name: "app.socket", ActiveState: "active", Listen: []string{"127.0.0.1:8080"}}
	rr := New(Options{Systemd: f, Listen: []string{"/run/app/cluster.sock"}, InstanceListen: []string{"127.0.0.1:8080"}})
	_, err := rr.Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrListenChanged)
	assert.Contains(t, err.Error(), "app.socket listens on 127.0.0.1:8080 and the configuration says /run/app/cluster.sock")
	assert.Empty(t, f.mutations())

	// And back.
	f = newFake("app@0.service", "app@1.service")
	f.units["app.socket"] = &Unit{Name: "app.socket", ActiveState: "active", Listen: []string{"/run/app/cluster.sock"}}
	f.units["app@0.socket"] = &Unit{Name: "app@0.socket", ActiveState: "active", Listen: []string{"127.0.0.1:8080"}}
	f.units["app@1.socket"] = &Unit{Name: "app@1.socket", ActiveState: "inactive"}
	rr.o.Systemd, rr.o.Listen, rr.o.InstanceListen = f, []string{"127.0.0.1:8080"}, nil
	_, err = rr.Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrListenChanged)
	assert.Contains(t, err.Error(), `app@0.socket listens on 127.0.0.1:8080 (socket = "reuseport") and the configuration says socket = "shared"`)
	assert.NotContains(t, err.Error(), "app@1.socket", "a stopped one is no obstacle")
	assert.Empty(t, f.mutations())

	// Per-instance sockets moved elsewhere.
	rr.o.Listen, rr.o.InstanceListen = []string{"/run/app/cluster.sock"}, []string{"127.0.0.1:9000"}
	_, err = rr.Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrListenChanged)
	assert.Contains(t, err.Error(), "app@0.socket listens on 127.0.0.1:8080 and the configuration says 127.0.0.1:9000")

	rr.o.InstanceListen = []string{"127.0.0.1:8080"}
	_, err = rr.Reload(context.Background(), 2)
	require.NoError(t, err, "the same mode and addresses roll")
}

func TestReusePortStopsInstancesWithTheirSockets(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	rr := New(Options{Systemd: f, Surge: "auto", InstanceListen: []string{"127.0.0.1:8080"}})
	rep, err := rr.Reload(context.Background(), 2)
	require.NoError(t, err)
	assert.False(t, rep.Surge)
	assert.Contains(t, rep.SurgeNote, `socket = "reuseport"`)
	assert.Equal(t, []string{
		"daemon-reload", "restart app@0.service", "restart app@1.service",
		"stop app@2.socket", "stop app@2.service", // scaled down: its socket would keep a share of new connections
	}, f.mutations())

	f = newFake("app@0.service", "app@1.service", "app@2.service")
	f.result["app@1.service"] = "failed"
	rr.o.Systemd = f
	rep, err = rr.Reload(context.Background(), 3)
	require.ErrorIs(t, err, ErrRolloutFailed)
	assert.Equal(t, []string{
		"daemon-reload", "restart app@0.service", "restart app@1.service",
		"stop app@1.socket", "stop app@1.service", // failed: out of the kernel's spread
	}, f.mutations(), "app@2 untouched")
	require.NotNil(t, rep.Failure)
	assert.True(t, rep.Failure.SocketStopped)
	assert.Equal(t, "app@1.socket", rep.Failure.Socket)
}

func TestCanonicalAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"8080": "*:8080", "[::]:8080": "*:8080", "0.0.0.0:8080": "*:8080",
		"127.0.0.1:8080": "127.0.0.1:8080", "[::1]:8080": "[::1]:8080", "/run/app.sock": "/run/app.sock",
	} {
		assert.Equal(t, want, canonical(in), in)
	}
}
