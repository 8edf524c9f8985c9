package reloader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

// withMem is r with the machine's available memory read by mem.
func withMem(r *Reloader, mem func() (uint64, error)) *Reloader {
	r.memAvailable = mem
	return r
}

func surging(f *fakeSystemd) *Reloader { return New(Options{Systemd: f, Surge: units.SurgeOn}) }

func TestSurgeStartsSpareFirstAndStopsItLast(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	var events []Event
	rr := surging(f)
	rr.o.Progress = func(e Event) { events = append(events, e) }
	rep, err := rr.Reload(context.Background(), 3)
	require.NoError(t, err)
	assert.True(t, rep.OK)
	assert.True(t, rep.Surge)
	assert.Equal(t, []string{
		"daemon-reload",
		"tether app-rollout.scope",
		"start app@spare.service",
		"restart app@0.service", "restart app@1.service", "restart app@2.service",
		"stop app@spare.service",
		"untether app-rollout.scope",
	}, f.mutations())
	assert.Equal(t, []string{"surge", "restart", "restart", "restart", "stop"}, actionsOf(rep))
	assert.Equal(t, "inactive", f.units["app@spare.service"].ActiveState, "the spare is gone at the end")
	// "[1/5] app@spare.service: starting the spare…" and "[5/5]
	// app@spare.service: stopped pid …", as view.WriteEvent shows them.
	assert.Equal(t, Event{Step: Step{Unit: "app@spare.service", Action: ActionSurge}, Index: 1, Total: 5}, events[0])
	last := events[len(events)-1]
	assert.True(t, last.Done)
	assert.Equal(t, [4]any{"app@spare.service", ActionStop, 5, 5}, [4]any{last.Unit, last.Action, last.Index, last.Total})
	assert.NotZero(t, last.OldPID)
}

func TestSurgeCatchesBrokenReleaseOnTheSpare(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	f.result["app@spare.service"] = "failed"
	rep, err := surging(f).Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrRolloutFailed)
	assert.Contains(t, err.Error(), "surge app@spare.service: job failed (result exit-code, exit status 3)")
	assert.Contains(t, err.Error(), "no instance was touched")
	assert.Equal(t, []string{
		"daemon-reload", "tether app-rollout.scope",
		"start app@spare.service", "stop app@spare.service",
		"untether app-rollout.scope",
	}, f.mutations(), "no regular instance is touched")
	assert.Equal(t, uint32(101), f.units["app@0.service"].MainPID)
	assert.Equal(t, uint32(102), f.units["app@1.service"].MainPID)
	require.NotNil(t, rep.Failure)
	assert.Equal(t, "app@spare.service", rep.Failure.Unit)
	assert.True(t, rep.Failure.Spare, `view.WriteReport: "caught on the spare: no instance was touched"`)
}

func TestSurgeSpareStoppedWhenALaterInstanceFails(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	f.result["app@1.service"] = "timeout"
	rep, err := surging(f).Reload(context.Background(), 3)
	require.ErrorIs(t, err, ErrRolloutFailed)
	assert.Equal(t, []string{
		"daemon-reload", "tether app-rollout.scope",
		"start app@spare.service", "restart app@0.service", "restart app@1.service",
		"stop app@spare.service", "untether app-rollout.scope",
	}, f.mutations())
	assert.Equal(t, "app@1.service", rep.Failure.Unit)
}

func TestSurgeInterruptStillStopsTheSpare(t *testing.T) {
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	ctx, cancel := context.WithCancel(context.Background())
	rr := surging(f)
	rr.o.Progress = func(e Event) {
		if e.Unit == "app@0.service" && e.Done {
			cancel() // SIGINT while app@0 restarted
		}
	}
	rep, err := rr.Reload(ctx, 3)
	require.ErrorIs(t, err, ErrInterrupted)
	assert.Equal(t, []string{
		"daemon-reload", "tether app-rollout.scope",
		"start app@spare.service", "restart app@0.service",
		"stop app@spare.service", "untether app-rollout.scope",
	}, f.mutations())
	assert.Equal(t, []string{"surge", "restart", "stop"}, actionsOf(rep))

	rep, err = surging(f).Reload(context.Background(), 3)
	require.NoError(t, err, "running it again completes the rollout")
	assert.Equal(t, []string{"surge", "restart", "restart", "restart", "stop"}, actionsOf(rep))
}

func TestSurgeRestartsALeftoverSpare(t *testing.T) {
	f := newFake("app@0.service", "app@spare.service")
	rep, err := surging(f).Reload(context.Background(), 1)
	require.NoError(t, err)
	assert.Contains(t, f.mutations(), "restart app@spare.service", "a spare already running is replaced by one of the new release")
	assert.Equal(t, []string{"surge", "restart", "stop"}, actionsOf(rep))
}

func TestSurgeTetherFailureTouchesNothing(t *testing.T) {
	f := newFake("app@0.service")
	f.tetherErr = errors.New("access denied")
	_, err := surging(f).Reload(context.Background(), 1)
	assert.ErrorContains(t, err, "surge: access denied")
	assert.Equal(t, []string{"daemon-reload", "tether app-rollout.scope"}, f.mutations())
}

func TestSurgeDecision(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name    string
		mode    units.Surge
		running bool
		memory  uint64 // of each running instance
		process bool   // memory is the main process's, not the cgroup's
		limit   uint64
		avail   uint64
		availOK bool
		surge   bool
		note    string
	}{
		{name: "off", mode: units.SurgeOff, running: true},
		{name: "unset is off", mode: "", running: true},
		{name: "nothing to replace", mode: units.SurgeOn, note: "no running instance to replace"},
		{name: "on ignores memory", mode: units.SurgeOn, running: true, memory: 500 * mb, avail: mb, availOK: true, surge: true},
		{name: "auto, fits", mode: units.SurgeAuto, running: true, memory: 300 * mb, avail: 1024 * mb, availOK: true, surge: true},
		{name: "auto, does not fit", mode: units.SurgeAuto, running: true, memory: 300 * mb, avail: 100 * mb, availOK: true,
			note: `surge "auto": 100.0M of memory available, one more instance may need 300.0M`},
		{name: "auto, limit when use unknown", mode: units.SurgeAuto, running: true, limit: 2048 * mb, avail: 1024 * mb, availOK: true,
			note: `surge "auto": 1.0G of memory available, one more instance may need 2.0G`},
		{name: "auto, only the main process's memory: the limit", mode: units.SurgeAuto, running: true, memory: 10 * mb, process: true, limit: 2048 * mb, avail: 1024 * mb, availOK: true,
			note: `surge "auto": 1.0G of memory available, one more instance may need 2.0G`},
		{name: "auto, nothing known", mode: units.SurgeAuto, running: true, surge: true},
		{name: "auto, cannot read", mode: units.SurgeAuto, running: true, memory: mb,
			note: `surge "auto": cannot tell whether one more instance fits: no meminfo`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.running {
				f = newFake("app@0.service", "app@1.service")
				f.units["app@1.service"].Memory = tc.memory
				if tc.process {
					f.units["app@1.service"].Accounting = AccountingProcess
				}
			}
			rr := withMem(New(Options{Systemd: f, Surge: tc.mode, MemoryLimit: tc.limit}), func() (uint64, error) {
				if !tc.availOK {
					return 0, errors.New("no meminfo")
				}
				return tc.avail, nil
			})
			rep, err := rr.Reload(context.Background(), 2)
			require.NoError(t, err)
			assert.Equal(t, tc.surge, rep.Surge)
			assert.Equal(t, tc.note, rep.SurgeNote)
			assert.Equal(t, tc.surge, f.units["app@spare.service"] != nil, "the spare was used")
		})
	}
}

// probeServers serves HTTP on dir/<instance>/http.sock, answering /healthz
// with what status returns for that instance.
func probeServers(t *testing.T, dir string, status func(inst string) int, instances ...string) {
	t.Helper()
	for _, inst := range instances {
		require.NoError(t, os.Mkdir(filepath.Join(dir, inst), 0o700))
		l, err := net.Listen("unix", filepath.Join(dir, inst, units.ProbeSocketName))
		require.NoError(t, err)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status(inst))
			fmt.Fprintf(w, "instance %s\n", inst)
		})}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { srv.Close() })
	}
}

// testProbe probes the servers of probeServers, which run in this process
// rather than in the instances' units.
func testProbe(dir string, timeout, interval time.Duration) *Probe {
	return &Probe{Path: "/healthz", Timeout: timeout, Dir: dir, Interval: interval, peer: func(pid int32, _ string) error {
		if pid != int32(os.Getpid()) {
			return fmt.Errorf("%w: served by process %d, not this test", ErrProbeSocket, pid)
		}
		return nil
	}}
}

func TestProbeHaltsOnUnhealthyInstance(t *testing.T) {
	dir := t.TempDir()
	probeServers(t, dir, func(inst string) int {
		if inst == "1" {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}, "0", "1", "2")
	f := newFake("app@0.service", "app@1.service", "app@2.service")
	rr := New(Options{Systemd: f, Probe: testProbe(dir, 300*time.Millisecond, 20*time.Millisecond)})
	rep, err := rr.Reload(context.Background(), 3)
	require.ErrorIs(t, err, ErrRolloutFailed)
	require.ErrorIs(t, err, ErrUnhealthy)
	assert.Contains(t, err.Error(), "restart app@1.service: health probe failed: GET /healthz via "+dir+"/1/http.sock: status 503 \"instance 1\"")
	assert.Equal(t, []string{"daemon-reload", "restart app@0.service", "restart app@1.service"}, f.mutations(), "app@2 untouched")
	assert.GreaterOrEqual(t, rep.Steps[1].Took, 300*time.Millisecond, "the probe retried for its timeout")
}

func TestProbeWaitsForWarmInstance(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int32
	probeServers(t, dir, func(string) int {
		if calls.Add(1) <= 3 {
			return http.StatusServiceUnavailable // still warming up
		}
		return http.StatusNoContent
	}, "0")
	f := newFake("app@0.service")
	rr := New(Options{Systemd: f, Probe: testProbe(dir, 5*time.Second, 10*time.Millisecond)})
	_, err := rr.Reload(context.Background(), 1)
	require.NoError(t, err)
	assert.EqualValues(t, 4, calls.Load())
}

func TestProbeNoSocket(t *testing.T) {
	dir := t.TempDir()
	p := testProbe(dir, 50*time.Millisecond, 10*time.Millisecond)
	err := p.Check(context.Background(), "app@spare.service")
	require.ErrorIs(t, err, ErrUnhealthy)
	assert.Contains(t, err.Error(), "spare/http.sock: lstat "+dir+"/spare/http.sock: no such file or directory")
}

// The probe runs as root and the probe directory is the instance's: a
// symlink there, or a socket some other process serves, is refused at
// once instead of connected to.
func TestProbeRefusesWhatTheInstanceDoesNotServe(t *testing.T) {
	dir := t.TempDir()
	probeServers(t, dir, func(string) int { return http.StatusOK }, "0", "elsewhere")
	p := testProbe(dir, 2*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Check(context.Background(), "app@0.service"))

	// The socket replaced by a symlink to another socket.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "1"), 0o700))
	require.NoError(t, os.Symlink(filepath.Join(dir, "elsewhere", units.ProbeSocketName), filepath.Join(dir, "1", units.ProbeSocketName)))
	// A directory that is a link, as systemd makes them for a dynamic
	// user, to a directory holding a symlink.
	require.NoError(t, os.Symlink(filepath.Join(dir, "1"), filepath.Join(dir, "2")))
	// A regular file.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "3"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "3", units.ProbeSocketName), nil, 0o600))
	for unit, want := range map[string]string{
		"app@1.service": "refused probe socket: " + dir + "/1/http.sock is a symlink",
		"app@2.service": "refused probe socket: " + dir + "/2/http.sock is a symlink",
		"app@3.service": "refused probe socket: " + dir + "/3/http.sock is a regular file, not a socket",
	} {
		start := time.Now()
		err := p.Check(context.Background(), unit)
		require.ErrorIs(t, err, ErrProbeSocket, unit)
		assert.Contains(t, err.Error(), want)
		assert.Less(t, time.Since(start), time.Second, "%s: refused at once, not retried for the timeout", unit)
	}

	// A socket served by a process outside the unit: this test's own.
	p.peer = nil
	err := p.Check(context.Background(), "app@0.service")
	require.ErrorIs(t, err, ErrProbeSocket)
	assert.Contains(t, err.Error(), fmt.Sprintf("it is served by process %d, which is not in app@0.service", os.Getpid()))
}

func TestProbeCatchesBrokenReleaseOnTheSpare(t *testing.T) {
	dir := t.TempDir()
	probeServers(t, dir, func(string) int { return http.StatusInternalServerError }, "spare")
	f := newFake("app@0.service", "app@1.service")
	rr := surging(f)
	rr.o.Probe = testProbe(dir, 100*time.Millisecond, 10*time.Millisecond)
	rep, err := rr.Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrUnhealthy)
	assert.Equal(t, "app@spare.service", rep.Failure.Unit)
	assert.NotContains(t, f.mutations(), "restart app@0.service")
}

func TestMigrateProbeDir(t *testing.T) {
	run := t.TempDir()
	private := filepath.Join(run, "private", "app", "probe")
	require.NoError(t, os.MkdirAll(private, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(private, "0.sock"), nil, 0o600)) // an old instance's
	dir := filepath.Join(run, "app", "probe")
	require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Symlink("../private/app/probe", dir))
	require.NoError(t, MigrateProbeDir(dir))
	fi, err := os.Lstat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir(), "a directory now")
	assert.FileExists(t, filepath.Join(private, "0.sock"), "the old instance's socket stays")
	require.NoError(t, MigrateProbeDir(dir), "idempotent")
	require.NoError(t, MigrateProbeDir(filepath.Join(run, "missing")))
}
