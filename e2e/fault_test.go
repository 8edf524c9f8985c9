//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/e2e/rawhttp"
)

// Each client has at most one request in flight, so a fault can fail at
// most this many requests if only in-flight requests are lost.
const loadClients = 8 + 4

// faultUnderLoad runs a fault between a second of load before and after it
// and returns what the clients saw.
func (c *cluster) faultUnderLoad(t *testing.T, name string, fault func()) Result {
	t.Helper()
	l := c.load(t)
	time.Sleep(time.Second)
	fault()
	time.Sleep(time.Second)
	res := l.Stop()
	t.Logf("%s: %s; errors %v", name, res.Summary(), res.Errors(3))
	return res
}

func TestFaultsUnderLoad(t *testing.T) {
	const n = 3
	c := newCluster(t, "instances = 3\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))

	step(t, "SIGKILL of one instance", func(t *testing.T) {
		before := c.pids(t, n)
		res := c.faultUnderLoad(t, "SIGKILL app@1", func() {
			c.run(t, "systemctl", "kill", "--signal=KILL", "app@1.service")
			// systemd restarts it (Restart=on-failure, RestartSec=2s).
			require.NoError(t, c.waitNewPID(t, "app@1.service", before["app@1.service"], 15*time.Second))
		})
		assert.LessOrEqual(t, res.Failed(), loadClients, "only requests in flight on app@1 may fail")
		after := c.pids(t, n)
		assert.Equal(t, before["app@0.service"], after["app@0.service"])
		assert.Equal(t, before["app@2.service"], after["app@2.service"])
	})

	step(t, "SIGKILL of every instance at once", func(t *testing.T) {
		before := c.pids(t, n)
		var gap time.Duration
		res := c.faultUnderLoad(t, "SIGKILL app@0, app@1, app@2", func() {
			start := time.Now()
			c.run(t, "systemctl", "kill", "--signal=KILL", "app@0.service", "app@1.service", "app@2.service")
			for _, u := range c.instances(n) {
				require.NoError(t, c.waitNewPID(t, u, before[u], 15*time.Second))
			}
			gap = time.Since(start)
		})
		t.Logf("all instances back after %s; the socket kept accepting meanwhile (max latency %s)", gap.Round(time.Millisecond), res.Quantile(1).Round(time.Millisecond))
		// systemctl kill signals the instances one after another: a client
		// whose connection died with app@0 may reconnect to app@1 in the
		// milliseconds before app@1 dies too. So each client can lose one
		// in-flight request per killed instance; queued connections wait.
		assert.LessOrEqual(t, res.Failed(), loadClients*n, "only requests in flight on the killed instances may fail; the queued ones wait")
		assert.Greater(t, res.Quantile(1), time.Second, "requests queued while no instance ran were served late, not refused")
	})

	step(t, "systemctl stop of one instance", func(t *testing.T) {
		res := c.faultUnderLoad(t, "systemctl stop app@2", func() {
			c.run(t, "systemctl", "stop", "app@2.service")
		})
		assert.Zero(t, res.Failed(), "a stopped instance drains: %v", res.Errors(5))
		c.run(t, "systemctl", "start", "app@2.service")
	})
	c.assertNoStopTimeouts(t)
}

// waitNewPID waits until a unit is active with a main PID other than old.
func (c *cluster) waitNewPID(t *testing.T, unit string, old int, timeout time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.ActiveStates(c.ctx, unit)[0] == "active" {
			pid, err := c.MainPID(c.ctx, unit)
			require.NoError(t, err)
			if pid != old && pid != 0 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not back with a new PID within %s", unit, timeout)
}

// A request longer than the stop timeout is cut off when its instance is
// stopped: the stop does not hang, and the client sees the failure.
func TestSlowRequestLongerThanStopTimeout(t *testing.T) {
	c := newCluster(t, "instances = 1\nkill_timeout = \"2s\"\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, "app@0.service"))

	const slow = 4
	results := make(chan error, slow)
	for i := 0; i < slow; i++ {
		go func() {
			conn, err := rawhttp.Dial(c.addr)
			if err != nil {
				results <- err
				return
			}
			defer conn.Close()
			resp, err := conn.Get("/slow?ms=10000")
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			results <- err
		}()
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	c.run(t, "systemctl", "stop", "app@0.service")
	took := time.Since(start)
	cut := 0
	for i := 0; i < slow; i++ {
		if err := <-results; err != nil {
			cut++
		}
	}
	t.Logf("stop with %d requests of 10s in flight and kill_timeout 2s: took %s, %d of %d requests cut off", slow, took.Round(time.Millisecond), cut, slow)
	assert.Equal(t, slow, cut, "every request longer than the stop timeout is cut off, and counted")
	assert.Less(t, took, 5*time.Second, "the stop is bounded by the drain timeout, not by the requests")
	logs := c.run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "app@0.service")
	assert.Contains(t, logs, "connections still busy after 1s", "the worker says it cut requests off")
}

// An instance that keeps crashing is kept down by the crash-loop guard
// after max_restarts, shows so in status, and the socket and the other
// instances keep serving; a reload brings it back once it is fixed.
func TestCrashLoopIsStopped(t *testing.T) {
	const n = 3
	c := newCluster(t, "instances = 3\nmax_restarts = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))

	// Break app@1 alone: it now exits at once on every start.
	dropIn := filepath.Join(c.Root, "etc/systemd/system/app@1.service.d")
	require.NoError(t, os.MkdirAll(dropIn, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dropIn, "crash.conf"), []byte("[Service]\nExecStart=\nExecStart=/bin/false\nRestartSec=200ms\n"), 0o644))
	c.run(t, "systemctl", "daemon-reload")

	l := c.load(t)
	c.run(t, "systemctl", "kill", "--signal=KILL", "app@1.service")
	deadline := time.Now().Add(30 * time.Second)
	result := ""
	for time.Now().Before(deadline) {
		result = strings.TrimSpace(c.run(t, "systemctl", "show", "-P", "Result", "app@1.service"))
		state := c.ActiveStates(c.ctx, "app@1.service")[0]
		if result == "exec-condition" && state == "inactive" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // it stays down: no more restarts
	res := l.Stop()
	t.Logf("crash loop of app@1 under load: %s; errors %v", res.Summary(), res.Errors(3))

	assert.Equal(t, "exec-condition", result, "the guard skipped the start")
	assert.Equal(t, []string{"inactive"}, c.ActiveStates(c.ctx, "app@1.service"), "app@1 stays down")
	assert.Equal(t, []string{"active"}, c.ActiveStates(c.ctx, "app.socket"), "the socket is untouched")
	assert.Equal(t, []string{"active", "active"}, c.ActiveStates(c.ctx, "app@0.service", "app@2.service"))
	assert.LessOrEqual(t, res.Failed(), loadClients, "only what app@1 had in flight when it was killed")
	st := c.run(t, "app-reloader", "status")
	assert.Regexp(t, `app@1.service\s+STOPPED: crash loop`, st)
	logs := c.run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "app@1.service")
	assert.Contains(t, logs, "app@1.service started 4 times within 1m0s: crash loop")

	// Fixed: a reload starts it again.
	require.NoError(t, os.RemoveAll(dropIn))
	_, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"active", "active", "active"}, c.ActiveStates(c.ctx, c.instances(n)...))
	c.assertNoStopTimeouts(t)
}
