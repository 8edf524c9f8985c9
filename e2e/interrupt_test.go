//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

// An operator's Ctrl-C, a CI job's SIGTERM or a SIGKILL in the middle of a
// rollout never leaves an instance stopped, and the next reload completes.
func TestInterruptedRollout(t *testing.T) {
	const n = 3
	// Each instance takes a second to warm up, so a rollout lasts ~3 s.
	c := newCluster(t, "instances = 3\n[env]\nAPP_STARTUP_DELAY = \"1s\"\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))

	for _, sig := range []string{"TERM", "KILL"} {
		step(t, "SIG"+sig, func(t *testing.T) {
			before := c.pids(t, n)
			l := c.load(t)
			done := make(chan string, 1)
			go func() {
				out, _ := c.Run(c.ctx, "app-reloader", "reload")
				done <- out
			}()
			// Signal it while app@1 restarts: app@0 is done and app@1 is
			// warming up (a second).
			deadline := time.Now().Add(30 * time.Second)
			for c.ActiveStates(c.ctx, "app@1.service")[0] == "active" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			require.Equal(t, []string{"active"}, c.ActiveStates(c.ctx, units.Spare), "the spare serves during the rollout")
			signalled := time.Now()
			c.run(t, "pkill", "-"+sig, "-x", "app-reloader")
			out := <-done
			require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...), "no instance is left stopped")
			// Stopped by the reloader on SIGTERM; by systemd when the reloader
			// was killed and its scope ended (BindsTo=).
			require.NoError(t, c.WaitInactive(c.ctx, 15*time.Second, units.Spare, units.RolloutScope), "no spare is left running")
			t.Logf("SIG%s: instances active and spare gone %s after the signal", sig, time.Since(signalled).Round(10*time.Millisecond))
			time.Sleep(500 * time.Millisecond)
			res := l.Stop()
			t.Logf("SIG%s mid-rollout: %s\n%s", sig, res.Summary(), out)
			assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(5))

			after := c.pids(t, n)
			assert.NotEqual(t, before["app@0.service"], after["app@0.service"], "app@0 was rolled")
			assert.NotEqual(t, before["app@1.service"], after["app@1.service"], "app@1, in progress, was finished")
			assert.Equal(t, before["app@2.service"], after["app@2.service"], "app@2 was not touched")
			st := c.run(t, "app-reloader", "status")
			if sig == "TERM" {
				assert.Contains(t, out, "rollout interrupted before app@2.service")
				assert.Contains(t, out, "rollout NOT complete")
				assert.Contains(t, st, "last rollout: NOT complete")
			} else {
				// Killed: no report was written at the end, but the one
				// saved as it went says it never ended, and how far it got
				// (app@1's restart was finished by systemd).
				t.Logf("app-reloader status after SIGKILL mid-rollout:\n%s", st)
				assert.Contains(t, st, "last rollout: INTERRUPTED")
				assert.Contains(t, st, "started by it (the new release): app@0.service, app@1.service")
				assert.Contains(t, st, "not reached (the release before): app@2.service")
				assert.NotContains(t, st, "last rollout: ok")
			}

			// The lock died with its holder; running reload again completes it.
			rep, out, err := c.reload(t)
			require.NoError(t, err, out)
			assert.True(t, rep.OK)
			assert.Len(t, rep.Steps, n+2, "spare, %d instances, spare", n)
			assert.False(t, strings.Contains(out, "another rollout is running"))
		})
	}
	c.assertNoStopTimeouts(t)
}
