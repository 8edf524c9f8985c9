//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/reloader"
	"example.com/app/units"
)

// Releases that pass every check a rollout used to make, then die: the
// way a pre-fork server (Debian's gunicorn, under a sandbox its workers
// cannot boot in) behaves. Both say READY=1 from their main process.
const (
	// readyThenExit says READY=1, then exits.
	readyThenExit = `systemd-notify --ready; sleep 0.5; exit 1`
	// childrenCrash says READY=1 from its master, whose worker dies at
	// boot; the master then exits with the worker's status, as gunicorn's
	// arbiter does ("Worker failed to boot").
	childrenCrash = `systemd-notify --ready; sh -c 'sleep 0.3; echo "worker failed to boot" >&2; exit 3' & wait $!; exit $?`
)

func shRelease(script string) string {
	return "script = \"/bin/sh\"\nargs = [\"-c\", " + tomlQuote(script) + "]\n"
}

// Issue 19 on a real systemd, one machine under load throughout: a
// release that dies after READY=1 is caught on the spare (or on the first
// instance without one) with no running instance restarted; status never
// says "ok" beside a crash-looping instance; a dropped bus ends the
// rollout at once with a clear error; a rollout that runs makes the next
// one wait or refuse, as asked.
func TestRolloutsTellTheTruth(t *testing.T) {
	const n = 3
	base := "instances = 3\n"
	c := newCluster(t, base)
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	// Load with no failure allowed; stopped around the crash loop, whose
	// SIGKILL loses what that instance has in flight.
	l := c.load(t)
	checkLoad := func(what string) {
		res := l.Stop()
		t.Logf("load through %s: %s", what, res.Summary())
		assert.Zero(t, res.Failed(), "%s: failed requests: %v", what, res.Errors(5))
	}
	defer func() { checkLoad("the dropped bus and the lock") }()
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	require.True(t, rep.OK)

	for _, tc := range []struct {
		name, release, surge, caught, reason string
	}{
		{"READY=1, then exits", readyThenExit, "", units.Spare, "died during the 2s hold after READY=1"},
		{"READY=1, then its worker dies", childrenCrash, "", units.Spare, "died during the 2s hold after READY=1"},
		{"READY=1, then exits, no spare", readyThenExit, "surge = false\n", "app@0.service", "died during the 2s hold after READY=1"},
	} {
		step(t, tc.name, func(t *testing.T) {
			before := c.pids(t, n)
			require.NoError(t, c.WriteConfig(c.config(base+tc.surge+shRelease(tc.release))))
			start := time.Now()
			rep, out, err := c.reload(t)
			t.Logf("reload of a release that dies after READY=1 (%s), %s:\n%s", tc.name, time.Since(start).Round(time.Millisecond), out)
			require.Error(t, err, "exits non-zero")
			require.NotNil(t, rep.Failure)
			assert.False(t, rep.OK)
			assert.Equal(t, tc.caught, rep.Failure.Unit)
			assert.Contains(t, rep.Failure.Reason, tc.reason)
			assert.NotEmpty(t, rep.Failure.Journal, "with its last log lines")
			after := c.pids(t, n)
			for _, u := range c.instances(n) {
				if u != tc.caught {
					assert.Equal(t, before[u], after[u], "%s keeps its process: not touched", u)
				}
			}
			st := c.run(t, "app-reloader", "status")
			assert.Contains(t, st, "last rollout: FAILED")
			assert.NotContains(t, st, "last rollout: ok")
			assert.Equal(t, []string{"inactive"}, c.ActiveStates(c.ctx, units.Spare))

			require.NoError(t, c.WriteConfig(c.config(base)))
			rep, out, err = c.reload(t)
			require.NoError(t, err, "the working release rolls again: %s", out)
			assert.True(t, rep.OK)
		})
	}

	checkLoad("three releases that die after READY=1")
	step(t, "status never says ok beside a crash loop that began since", func(t *testing.T) {
		dropIn := "/etc/systemd/system/app@1.service.d"
		c.run(t, "mkdir", "-p", dropIn)
		c.run(t, "sh", "-c", "printf '[Service]\\nExecStart=\\nExecStart=/bin/false\\nRestartSec=100ms\\n' > "+dropIn+"/crash.conf")
		c.run(t, "systemctl", "daemon-reload")
		c.run(t, "systemctl", "kill", "--signal=KILL", "app@1.service")
		deadline := time.Now().Add(30 * time.Second)
		for strings.TrimSpace(c.run(t, "systemctl", "show", "-P", "Result", "app@1.service")) != "exec-condition" && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		out := c.run(t, "app-reloader", "status")
		t.Logf("app-reloader status:\n%s", out)
		assert.Regexp(t, `last rollout: ok, \S+, 3 instances in \S+; but since then: app@1.service STOPPED: crash loop`, out)
		var st reloader.Status
		require.NoError(t, json.Unmarshal([]byte(c.run(t, "app-reloader", "status", "--json")), &st))
		assert.Equal(t, reloader.RolloutDegraded, st.RolloutState)
		assert.Equal(t, []string{"app@1.service STOPPED: crash loop"}, st.SinceRollout)
		c.run(t, "rm", "-r", dropIn)
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		assert.True(t, rep.OK)
		assert.Contains(t, c.run(t, "app-reloader", "status"), "last rollout: ok")
	})
	l = c.load(t)

	step(t, "a dropped bus ends the rollout at once, and says so", func(t *testing.T) {
		// Each instance takes 2 s to say READY=1: systemd re-executes
		// (as a systemd upgrade does) while app@0's restart job runs.
		slow := base + "[env]\nAPP_STARTUP_DELAY = \"2s\"\n"
		require.NoError(t, c.WriteConfig(c.config(slow)))
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		before := c.pids(t, n)
		done := make(chan struct {
			out string
			err error
			at  time.Time
		}, 1)
		go func() {
			out, err := c.Run(c.ctx, "app-reloader", "reload")
			done <- struct {
				out string
				err error
				at  time.Time
			}{out, err, time.Now()}
		}()
		deadline := time.Now().Add(30 * time.Second)
		for c.ActiveStates(c.ctx, "app@0.service")[0] == "active" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		reexec := time.Now()
		c.run(t, "systemctl", "daemon-reexec")
		var res struct {
			out string
			err error
			at  time.Time
		}
		select {
		case res = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("the rollout still waits 60 s after its bus dropped")
		}
		t.Logf("reload while systemd re-executed: ended %s after daemon-reexec:\n%s", res.at.Sub(reexec).Round(time.Millisecond), res.out)
		require.Error(t, res.err, "a rollout that lost track of its job is not ok")
		assert.Contains(t, res.out, "lost the connection to systemd")
		assert.Contains(t, res.out, "rollout FAILED at app@0.service")
		assert.Less(t, res.at.Sub(reexec), 15*time.Second, "noticed at once, not after the job's bound")
		// systemd finished the job it was given; the spare is gone; the
		// others were not touched; status tells the truth.
		require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
		require.NoError(t, c.WaitInactive(c.ctx, 15*time.Second, units.Spare))
		after := c.pids(t, n)
		assert.NotEqual(t, before["app@0.service"], after["app@0.service"])
		assert.Equal(t, before["app@1.service"], after["app@1.service"])
		assert.Contains(t, c.run(t, "app-reloader", "status"), "last rollout: FAILED")

		require.NoError(t, c.WriteConfig(c.config(base)))
		rep, out, err = c.reload(t)
		require.NoError(t, err, out)
		assert.True(t, rep.OK)
	})

	step(t, "a rollout that runs makes the next wait, or refuse at once", func(t *testing.T) {
		// Held as a rollout holds it, for 3 s.
		holder := make(chan error, 1)
		go func() {
			_, err := c.Run(c.ctx, "flock", reloader.DefaultLockPath, "sleep", "3")
			holder <- err
		}()
		time.Sleep(500 * time.Millisecond)
		out, err := c.Run(c.ctx, "app-reloader", "reload")
		assert.Error(t, err)
		assert.Contains(t, out, "another rollout is running")
		assert.Contains(t, out, "nothing was changed")
		start := time.Now()
		out, err = c.Run(c.ctx, "app-reloader", "reload", "-wait-lock", "30s")
		require.NoError(t, err, out)
		t.Logf("reload -wait-lock 30s behind a 3 s holder: done after %s", time.Since(start).Round(10*time.Millisecond))
		assert.Contains(t, out, "waiting up to 30s for it to end")
		assert.Contains(t, out, "rollout done")
		require.NoError(t, <-holder)
	})

	step(t, "the probe directory an older release left is migrated", func(t *testing.T) {
		// As releases before this one left it: one directory for every
		// instance, which systemd made a link into /run/private.
		c.run(t, "systemctl", "stop", units.Target)
		c.run(t, "sh", "-c", "rm -rf /run/app/probe && mkdir -p /run/private/app/probe && ln -s ../private/app/probe /run/app/probe")
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		assert.True(t, rep.OK)
		require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
		assert.Contains(t, c.run(t, "curl", "-sS", "--unix-socket", units.ProbeSocket("2"), "http://app/healthz"), "ok")
	})
}
