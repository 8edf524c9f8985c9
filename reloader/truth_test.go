package reloader

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"example.com/app/reloader/proc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A release whose processes die a moment after READY=1 (a pre-fork
// master whose workers cannot boot) is caught on the spare by the canary
// hold: no running instance is restarted.
func TestCanaryHoldCatchesEarlyDeathOnTheSpare(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	f.crashAfter["app@spare.service"] = 3
	rr := surging(f)
	rr.o.CanaryHold, rr.o.HoldPoll = 300*time.Millisecond, 10*time.Millisecond
	rep, err := rr.Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrRolloutFailed)
	assert.Contains(t, err.Error(), "surge app@spare.service: died during the 300ms hold after READY=1")
	assert.True(t, rep.Failure.Spare, "caught on the spare")
	assert.NotContains(t, f.mutations(), "restart app@0.service")
	assert.NotContains(t, f.mutations(), "restart app@1.service")
}

// Without a spare, the first instance restarted is the canary; the
// others are not held longer than min_uptime.
func TestCanaryHoldWithoutASpare(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	f.crashAfter["app@0.service"] = 3
	rr := r(f)
	rr.o.CanaryHold, rr.o.HoldPoll = 300*time.Millisecond, 10*time.Millisecond
	_, err := rr.Reload(context.Background(), 2)
	require.ErrorIs(t, err, ErrRolloutFailed)
	assert.Contains(t, err.Error(), "restart app@0.service: died during the 300ms hold")
	assert.NotContains(t, f.mutations(), "restart app@1.service")

	f = newFake("app@0.service", "app@1.service")
	rr = r(f)
	rr.o.CanaryHold, rr.o.HoldPoll = 200*time.Millisecond, 10*time.Millisecond
	rep, err := rr.Reload(context.Background(), 2)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, rep.Steps[0].Took, 200*time.Millisecond, "the canary is held")
	assert.Less(t, rep.Steps[1].Took, 100*time.Millisecond, "the others are not")
}

// A rollout never ends ok while an instance it started, the spare
// included, has died or restarted since it was ready.
func TestRolloutNotOKWhenAStartedInstanceDiedSince(t *testing.T) {
	for _, tc := range []struct {
		name  string
		surge bool
		dies  string
	}{
		{"an instance, no spare", false, "app@0.service"},
		{"an instance, with a spare", true, "app@0.service"},
		{"the spare", true, "app@spare.service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("app@0.service", "app@1.service")
			// Read once when it is ready, once more at the end: dead by then.
			f.crashAfter[tc.dies] = 2
			rr := r(f)
			if tc.surge {
				rr = surging(f)
			}
			rep, err := rr.Reload(context.Background(), 2)
			require.ErrorIs(t, err, ErrRolloutFailed)
			require.ErrorIs(t, err, ErrDiedAfterReady)
			assert.False(t, rep.OK)
			require.NotNil(t, rep.Failure)
			assert.Equal(t, tc.dies, rep.Failure.Unit)
			assert.Contains(t, rep.Failure.Reason, "died after it was ready")
			assert.Contains(t, rep.Failure.Journal, "Dec 02 01:00:00.000001 vm worker[42]: "+tc.dies+": boom", "with its last log lines")
			if tc.surge {
				assert.Equal(t, "inactive", f.units["app@spare.service"].ActiveState, "the spare is stopped all the same")
			}
		})
	}
}

// The report is saved before anything is touched and after every step,
// so that a killed rollout leaves one that says so and how far it got.
func TestCheckpoints(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	var saved []Report
	var calls []int // how many calls systemd had had at each
	rr := surging(f)
	rr.o.Checkpoint = func(rep Report) { saved = append(saved, rep); calls = append(calls, len(f.calls)) }
	rep, err := rr.Reload(context.Background(), 2)
	require.NoError(t, err)
	require.Len(t, saved, 2*len(rep.Steps)+1, "as it begins, then as each step begins and ends")
	assert.True(t, saved[0].Running)
	assert.Empty(t, saved[0].Steps)
	assert.Zero(t, calls[0], "saved before anything is touched")
	for i, s := range saved[1:] {
		assert.True(t, s.Running)
		assert.Len(t, s.Steps, i/2+1)
		assert.Equal(t, i%2 == 0, s.Steps[i/2].InProgress, "step %d begun, then done", i/2)
	}
	require.NotNil(t, saved[0].Process)
	assert.Equal(t, os.Getpid(), saved[0].Process.PID)
	assert.False(t, rep.Running, "the final report is not running")
	assert.True(t, saved[0].Process.Alive())
	assert.False(t, saved[0].Interrupted(), "this process still runs it")
	gone := *saved[0].Process
	gone.Start++
	saved[0].Process = &gone
	assert.True(t, saved[0].Interrupted(), "another process with this PID is not the one that ran it")
}

func TestAssess(t *testing.T) {
	alive := func(*proc.Process) bool { return true }
	dead := func(*proc.Process) bool { return false }
	ok := &Report{OK: true, Steps: []Step{
		{Unit: "app@spare.service", Action: ActionSurge, NewPID: 9},
		{Unit: "app@0.service", Action: ActionRestart, NewPID: 10},
		{Unit: "app@1.service", Action: ActionRestart, NewPID: 11},
		{Unit: "app@spare.service", Action: ActionStop, OldPID: 9},
	}}
	up := func(name string, pid uint32) Unit {
		return Unit{Name: name, ActiveState: "active", SubState: "running", MainPID: pid}
	}
	for _, tc := range []struct {
		name  string
		rep   *Report
		inst  []Unit
		alive func(*proc.Process) bool
		state string
		since []string
	}{
		{"none", nil, nil, alive, RolloutNone, nil},
		{"ok", ok, []Unit{up("app@0.service", 10), up("app@1.service", 11)}, alive, RolloutOK, nil},
		{"crash loop since", ok, []Unit{up("app@0.service", 10), {Name: "app@1.service", ActiveState: "inactive", Result: "exec-condition"}}, alive, RolloutDegraded,
			[]string{"app@1.service STOPPED: crash loop"}},
		{"restarted since", ok, []Unit{up("app@0.service", 10), {Name: "app@1.service", ActiveState: "active", MainPID: 20, NRestarts: 3}}, alive, RolloutDegraded,
			[]string{"app@1.service restarted since (pid 11 → 20, 3 restarts by systemd)"}},
		{"failed since", ok, []Unit{{Name: "app@0.service", ActiveState: "failed", Result: "exit-code"}, up("app@1.service", 11)}, alive, RolloutDegraded,
			[]string{"app@0.service failed (exit-code)"}},
		{"running", &Report{Running: true, Process: &proc.Process{PID: 1}}, nil, alive, RolloutRunning, nil},
		{"interrupted", &Report{Running: true, Process: &proc.Process{PID: 1}}, nil, dead, RolloutInterrupted, nil},
		{"failed", &Report{Failure: &Failure{Unit: "app@0.service"}}, nil, alive, RolloutFailed, nil},
		{"incomplete", &Report{Error: "rollout interrupted before app@1"}, nil, alive, RolloutIncomplete, nil},
	} {
		st := Status{Instances: tc.inst, LastRollout: tc.rep}
		st.Assess(tc.alive)
		assert.Equal(t, tc.state, st.RolloutState, tc.name)
		assert.Equal(t, tc.since, st.SinceRollout, tc.name)
	}
}

func TestLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "reload.lock")
	unlock, err := Lock(path)
	require.NoError(t, err)
	_, err = LockWait(path, 100*time.Millisecond, nil)
	require.ErrorIs(t, err, ErrBusy, "still held after the wait")

	var told []string
	go func() { time.Sleep(300 * time.Millisecond); unlock() }()
	start := time.Now()
	unlock2, err := LockWait(path, 5*time.Second, func(h string) { told = append(told, h) })
	require.NoError(t, err)
	unlock2()
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "it waited for the holder")
	assert.Len(t, told, 1, "told once")
}
