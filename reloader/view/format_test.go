package view

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"example.com/app/reloader"
	"example.com/app/reloader/proc"
)

// What a rollout prints as it goes and when it ends, for the reports the
// engine's tests produce (reloader's TestReloadHaltsOnFirstFailure,
// TestHoldPassesSteadyInstances, TestSurgeStartsSpareFirstAndStopsItLast,
// TestInterruptFinishesCurrentInstanceOnly, TestSurgeCatchesBrokenReleaseOnTheSpare,
// TestReusePortStopsInstancesWithTheirSockets).
func TestWriteEvent(t *testing.T) {
	var out bytes.Buffer
	WriteEvent(&out, reloader.Event{Step: reloader.Step{Unit: "app@spare.service", Action: reloader.ActionSurge}, Index: 1, Total: 5})
	WriteEvent(&out, reloader.Event{Step: reloader.Step{Unit: "app@spare.service", Action: reloader.ActionStop, OldPID: 9, Took: 20 * time.Millisecond}, Done: true, Index: 5, Total: 5})
	WriteEvent(&out, reloader.Event{Step: reloader.Step{Unit: "app@1.service", Action: reloader.ActionRestart, OldPID: 2, Error: "job failed (result exit-code, exit status 3)", Took: time.Second}, Done: true, Index: 2, Total: 3})
	WriteEvent(&out, reloader.Event{Step: reloader.Step{Unit: "app@0.service", Action: reloader.ActionRestart, OldPID: 1, NewPID: 7, Ready: 100 * time.Millisecond, Took: 160 * time.Millisecond}, Done: true, Index: 1, Total: 2})
	for _, want := range []string{
		"[1/5] app@spare.service: starting the spare…\n",
		"[5/5] app@spare.service: stopped pid 9 in 20ms\n",
		"[2/3] app@1.service: FAILED after 1s: job failed (result exit-code, exit status 3)\n",
		"[1/2] app@0.service: ready, pid 1 → 7 in 100ms, stayed up 60ms\n",
	} {
		assert.Contains(t, out.String(), want)
	}
}

func TestWriteReport(t *testing.T) {
	render := func(rep reloader.Report) string {
		var b bytes.Buffer
		WriteReport(&b, rep)
		return b.String()
	}
	failed := render(reloader.Report{Failure: &reloader.Failure{Unit: "app@1.service", Reason: "job failed (result exit-code, exit status 3)",
		Journal:   []string{"app@1.service: boom", "app@1.service: exiting with status 3"},
		Diagnosis: reloader.Diagnosis{Cause: "Error: EROFS: read-only file system, open '/srv/a/x'", Hints: []string{`read_write_paths = ["/srv/a"]`}}}})
	assert.Contains(t, failed, "rollout FAILED at app@1.service: job failed")
	assert.Contains(t, failed, "\ncause: Error: EROFS: read-only file system, open '/srv/a/x'\nhint: read_write_paths = [\"/srv/a\"]\n")
	assert.Contains(t, failed, "  app@1.service: boom")
	assert.Contains(t, failed, "instances after it were not touched.")

	spare := render(reloader.Report{Failure: &reloader.Failure{Unit: "app@spare.service", Reason: "job failed", Spare: true}})
	assert.Contains(t, spare, "rollout FAILED at app@spare.service")
	assert.Contains(t, spare, "caught on the spare: no instance was touched")

	socket := render(reloader.Report{Failure: &reloader.Failure{Unit: "app@1.service", Reason: "job failed", Socket: "app@1.socket", SocketStopped: true}})
	assert.Contains(t, socket, "app@1.service was stopped with its socket app@1.socket")

	incomplete := render(reloader.Report{Error: "rollout interrupted before app@2.service", Took: 2 * time.Second})
	assert.Contains(t, incomplete, "rollout NOT complete after 2s")
}

func TestWriteStatus(t *testing.T) {
	now := time.Now()
	st := reloader.Status{Configured: 2,
		Socket: reloader.Unit{Name: "app.socket", ActiveState: "active", SubState: "listening"},
		Instances: []reloader.Unit{
			{Name: "app@0.service", ActiveState: "active", SubState: "running", MainPID: 101, Since: now.Add(-90 * time.Second), Memory: 12 << 20, StatusText: "serving version 1"},
			{Name: "app@1.service", ActiveState: "inactive", SubState: "dead"},
		},
		LastRollout: &reloader.Report{Started: now, OK: true, Instances: 2, Took: 3 * time.Second},
	}
	st.Assess(func(*proc.Process) bool { return true })
	var out bytes.Buffer
	WriteStatus(&out, st, now, false)
	s := out.String()
	assert.Contains(t, s, "socket app.socket: active/listening")
	assert.NotContains(t, s, "\x1b[", "no colours unless asked")
	assert.Regexp(t, `app@0.service\s+active\s+101\s+1m30s\s+0\s+12.0M\s+-\s+serving version 1`, s)
	assert.Regexp(t, `app@1.service\s+inactive/dead\s+-\s+-`, s)
	assert.Contains(t, s, "last rollout: ok, ")
	assert.Contains(t, s, "; but since then: app@1.service inactive/dead", "app@1 is not running: status says so beside the ok")
	assert.NotContains(t, s, "instance sockets", "none with one shared socket")

	st.Sockets = []reloader.Unit{{Name: "app@0.socket", ActiveState: "active"}, {Name: "app@1.socket", ActiveState: "inactive"}}
	out.Reset()
	WriteStatus(&out, st, now, false)
	assert.Contains(t, out.String(), "instance sockets (SO_REUSEPORT): app@0.socket active, app@1.socket inactive")
	st.Steered = []int{0}
	out.Reset()
	WriteStatus(&out, st, now, false)
	assert.Contains(t, out.String(), "new connections go to: 0\n")
	st.Steered, st.SteerNote = nil, "root can tell"
	out.Reset()
	WriteStatus(&out, st, now, false)
	assert.Contains(t, out.String(), "new connections go to: root can tell\n")
	st.SteerNote = ""

	st.LastRollout = &reloader.Report{Error: "rollout interrupted before app@2.service"}
	st.Assess(func(*proc.Process) bool { return true })
	out.Reset()
	WriteStatus(&out, st, now, false)
	assert.Contains(t, out.String(), "last rollout: NOT complete")
}
