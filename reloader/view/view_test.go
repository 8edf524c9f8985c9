package view

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"example.com/app/reloader"
	"example.com/app/reloader/journal"
	"example.com/app/reloader/proc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLiveProgress(t *testing.T) {
	var out bytes.Buffer
	p := NewLiveProgress(&out, false)
	p.Event(reloader.Event{Step: reloader.Step{Unit: "app@0.service", Action: reloader.ActionRestart, OldPID: 10}, Index: 1, Total: 2})
	first := out.String()
	assert.Equal(t, "\r\x1b[2K… app@0.service restarting (pid 10)…\n\r\x1b[2K[1/2] steps\n", first)
	p.Event(reloader.Event{Step: reloader.Step{Unit: "app@0.service", Action: reloader.ActionRestart, OldPID: 10, NewPID: 11, Ready: time.Second, Took: time.Second}, Done: true, Index: 1, Total: 2})
	p.Event(reloader.Event{Step: reloader.Step{Unit: "app@1.service", Action: reloader.ActionRestart, OldPID: 12}, Index: 2, Total: 2})
	p.Event(reloader.Event{Step: reloader.Step{Unit: "app@1.service", Action: reloader.ActionRestart, OldPID: 12, Error: "job failed"}, Done: true, Index: 2, Total: 2})
	// What a terminal shows after the last draw: one line per instance.
	last := out.String()[strings.LastIndex(out.String(), "\x1b[3A"):]
	assert.Equal(t, "\x1b[3A\r\x1b[2K✓ app@0.service ready, pid 10 → 11 in 1s\n\r\x1b[2K✗ app@1.service FAILED after 0s: job failed\n\r\x1b[2K[2/2] steps\n", last)

	var col bytes.Buffer
	NewLiveProgress(&col, true).Event(reloader.Event{Step: reloader.Step{Unit: "app@0.service", Action: reloader.ActionStart}, Done: true, Index: 1, Total: 1})
	assert.Contains(t, col.String(), "\x1b[32m✓\x1b[0m")

	// Not a terminal: plain lines.
	var piped bytes.Buffer
	ProgressTo(&piped, false)(reloader.Event{Step: reloader.Step{Unit: "app@0.service", Action: reloader.ActionStart}, Index: 1, Total: 1})
	assert.Equal(t, "[1/1] app@0.service: starting…\n", piped.String())
}

func TestRenderTop(t *testing.T) {
	now := time.Now()
	st := reloader.Status{Configured: 2, Socket: reloader.Unit{Name: "app.socket", ActiveState: "active", Listen: []string{"127.0.0.1:8080"}},
		Instances: []reloader.Unit{
			{Name: "app@0.service", ActiveState: "active", SubState: "running", MainPID: 10, CPU: 1e9, Memory: 8 << 20, Since: now.Add(-time.Minute), StatusText: "serving version 1, 1000 requests"},
			{Name: "app@1.service", ActiveState: "activating", SubState: "start", MainPID: 11, NRestarts: 2, StatusText: "warming up"},
		}}
	var b bytes.Buffer
	prev := renderTop(&b, st, nil, now, time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+1m0s\s+0\s+-\s+8.0M\s+-\s+serving version 1\n`, b.String(), "no rates from a first sample")

	st.Instances[0].CPU, st.Instances[0].StatusText = 1.5e9, "serving version 1, 1500 requests"
	b.Reset()
	renderTop(&b, st, prev, now.Add(2*time.Second), time.Second, false)
	out := b.String()
	assert.Regexp(t, `app@0.service\s+active\s+10\s+1m2s\s+0\s+25.0\s+8.0M\s+250\s+serving version 1\n`, out, "CPU 0.5s in 2s, 500 requests in 2s")
	assert.Regexp(t, `app@1.service\s+activating/start\s+11\s+-\s+2\s+-\s+-\s+-\s+warming up\n`, out)
	assert.Contains(t, out, "1 of 2 instances active, 250 req/s")

	// The count comes once a second; refreshes in between keep the rate
	// (instead of showing 0 every other frame), until it is stale.
	prev = renderTop(&bytes.Buffer{}, st, prev, now.Add(2*time.Second), time.Second, false)
	b.Reset()
	prev2 := renderTop(&b, st, prev, now.Add(2500*time.Millisecond), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+\S+\s+0\s+\S+\s+8.0M\s+250\s+serving`, b.String())
	st.Instances[0].StatusText = "serving version 1, 2000 requests"
	b.Reset()
	prev2 = renderTop(&b, st, prev2, now.Add(3*time.Second), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+\S+\s+0\s+\S+\s+8.0M\s+500\s+serving`, b.String(), "500 more since the change seen at 2s")
	b.Reset()
	renderTop(&b, st, prev2, now.Add(7*time.Second), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+\S+\s+0\s+\S+\s+8.0M\s+0\s+serving`, b.String(), "no change for 4s: 0")

	// A new process starts its count again: no rate across it.
	st.Instances[0].MainPID, st.Instances[0].StatusText = 12, "serving version 1, 3 requests"
	b.Reset()
	renderTop(&b, st, prev, now.Add(3*time.Second), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+12\s+1m3s\s+0\s+-\s+8.0M\s+-`, b.String())
}

func TestLogLines(t *testing.T) {
	e, ok := journal.ParseEntry([]byte(`{"__REALTIME_TIMESTAMP":"1764115200123000","_SYSTEMD_UNIT":"app@1.service","_PID":"42","PRIORITY":"6","MESSAGE":"level=INFO msg=serving"}`))
	require.True(t, ok)
	var b bytes.Buffer
	writeLogLine(&b, e, false)
	assert.Equal(t, e.Time.Format("15:04:05.000")+" app@1  | level=INFO msg=serving\n", b.String())

	// systemd's own line about the instance, and a message in bytes.
	e, ok = journal.ParseEntry([]byte(`{"__REALTIME_TIMESTAMP":"1764115200123000","_SYSTEMD_UNIT":"init.scope","UNIT":"app@0.service","_PID":"1","PRIORITY":"6","MESSAGE":[83,116,97,114,116,101,100,255]}`))
	require.True(t, ok)
	assert.Equal(t, "app@0.service", e.Unit)
	b.Reset()
	writeLogLine(&b, e, false)
	assert.Contains(t, b.String(), " app@0  | systemd: Started\uFFFD\n")

	e, _ = journal.ParseEntry([]byte(`{"_SYSTEMD_UNIT":"app@2.service","PRIORITY":"3","MESSAGE":"boom"}`))
	b.Reset()
	writeLogLine(&b, e, true)
	assert.Contains(t, b.String(), "\x1b[31;1mboom\x1b[0m", "errors in red on a terminal")
	_, ok = journal.ParseEntry([]byte("-- No entries --"))
	assert.False(t, ok)
}

func TestWriteDescription(t *testing.T) {
	now := time.Now()
	d := reloader.Description{
		Unit:        reloader.Unit{Name: "app@0.service", ActiveState: "active", SubState: "running", MainPID: 7, Since: now.Add(-time.Hour), NRestarts: 1, Memory: 3 << 20},
		Description: "app instance 0", UnitFile: "/lib/systemd/system/app@.service", DropIns: []string{"/run/systemd/generator/app@.service.d/app.conf"},
		Command: []string{"/usr/bin/node", "/srv/my app/server.js"}, User: "app-worker", DynamicUser: true,
		Environment: []string{"APP_INSTANCE=0"}, Sockets: []reloader.Unit{{Name: "app.socket", ActiveState: "active", Listen: []string{"127.0.0.1:8080"}}},
		Limits: reloader.Limits{MemoryMax: 512 << 20, StartTimeout: 30 * time.Second, StopTimeout: 30 * time.Second, Restart: "on-failure", RestartDelay: 100 * time.Millisecond},
		Recent: []journal.Entry{{Time: now, Message: "Started app@0.service - app instance 0."}},
	}
	var b bytes.Buffer
	WriteDescription(&b, d, now, false)
	out := b.String()
	for _, want := range []string{
		"unit            app@0.service (app instance 0)",
		"command         /usr/bin/node '/srv/my app/server.js'",
		"user            app-worker (dynamic)",
		"memory          3.0M of 512.0M",
		"timeouts        start 30s, stop 30s",
		"sockets         app.socket active 127.0.0.1:8080",
		"drop-ins        /run/systemd/generator/app@.service.d/app.conf",
		"environment\n  APP_INSTANCE=0\n",
		"Started app@0.service - app instance 0.",
	} {
		assert.Contains(t, out, want)
	}
}

// An interrupted rollout: status says so, and which instances it left on
// the new release, counting the one whose restart systemd finished after
// the reloader was killed.
func TestStatusOfAnInterruptedRollout(t *testing.T) {
	rep := &reloader.Report{Running: true, Process: &proc.Process{PID: 4242}, Started: time.Unix(0, 0), Steps: []reloader.Step{
		{Unit: "app@spare.service", Action: reloader.ActionSurge, NewPID: 9},
		{Unit: "app@0.service", Action: reloader.ActionRestart, OldPID: 1, NewPID: 10},
		{Unit: "app@1.service", Action: reloader.ActionRestart, OldPID: 2, InProgress: true},
	}}
	up := func(name string, pid uint32) reloader.Unit {
		return reloader.Unit{Name: name, ActiveState: "active", SubState: "running", MainPID: pid}
	}
	st := reloader.Status{Configured: 3, LastRollout: rep, Instances: []reloader.Unit{up("app@0.service", 10), up("app@1.service", 11), up("app@2.service", 3)}}
	st.Assess(func(*proc.Process) bool { return false })
	var b strings.Builder
	WriteStatus(&b, st, time.Now(), false)
	out := b.String()
	assert.Contains(t, out, "last rollout: INTERRUPTED, 1970-01-01T00:00:00Z, after 3 steps: the reloader (pid 4242) is gone")
	assert.Contains(t, out, "started by it (the new release): app@0.service, app@1.service")
	assert.Contains(t, out, "not reached (the release before): app@2.service")
	assert.Contains(t, out, "run `app-reloader reload` to complete it")
	assert.NotContains(t, out, "ok")
}

func TestTopFitsTheScreen(t *testing.T) {
	frame := "INSTANCE  STATE\n\x1b[32mapp@0.service\x1b[0m  active\napp@1.service  active\n"
	assert.Equal(t, "INSTANCE\n\x1b[32mapp@0.se\x1b[0m\n", fit(frame, 2, 8), "cut to 2 rows of 8 columns; the colour reset")
	assert.Equal(t, frame, fit(frame, 10, 80), "room enough: as it was")
	assert.Equal(t, "ÄÖÜ\n", fit("ÄÖÜß\n", 1, 3), "columns are characters, not bytes")
}

func TestTopRedrawsOnResize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resized := make(chan os.Signal, 1)
	cols := 80
	var calls atomic.Int32
	var buf bytes.Buffer
	status := func(context.Context) (reloader.Status, error) {
		if calls.Add(1) == 1 {
			cols = 20
			resized <- syscall.SIGWINCH // the terminal shrinks after the first frame
		}
		return reloader.Status{Instances: []reloader.Unit{{Name: "app@0.service", ActiveState: "active"}}}, nil
	}
	start := time.Now()
	err := Top(ctx, &buf, status, TopOptions{Interval: time.Hour, Frames: 2, Screen: true, Size: func() (int, int, bool) { return 24, cols, true }, Resized: resized})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "redrawn on the resize, not an hour later")
	assert.EqualValues(t, 2, calls.Load())
	frames := strings.Split(buf.String(), "\x1b[H")
	require.Len(t, frames, 3)
	for _, l := range strings.Split(frames[2], "\n") {
		l = regexp.MustCompile("\x1b\\[[0-9;?]*[a-zA-Z]").ReplaceAllString(l, "")
		assert.LessOrEqual(t, utf8.RuneCountInString(l), 20, "the second frame fits 20 columns: %q", l)
	}
}
