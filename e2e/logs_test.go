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

// TestWorkerLogPriorities: the reference worker's lines carry their
// priority into the journal, so journalctl -p err finds its errors, and
// app-reloader logs -p selects by it.
func TestWorkerLogPriorities(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))

	// A worker that fails (its probe socket cannot be made), as systemd
	// runs it: stderr to the journal.
	unit := "app-log-priority-check.service"
	out, err := c.Run(c.ctx, "systemd-run", "--unit="+unit, "--wait", "--quiet", "-p", "Type=exec",
		"--setenv=APP_PROBE_SOCKET=/nonexistent/probe.sock", "/usr/bin/app", "--listen", "127.0.0.1:0")
	require.Error(t, err, "the worker fails: %s", out)
	t.Cleanup(func() { _, _ = c.Run(c.ctx, "systemctl", "reset-failed", unit) })
	c.run(t, "journalctl", "--sync")
	errs := c.run(t, "journalctl", "-q", "-o", "cat", "-p", "err", "-u", unit, "_COMM=app")
	assert.Contains(t, errs, `msg="worker failed"`, "its error at priority err")
	assert.NotContains(t, errs, "<3>", "journald took the prefix off")
	info := c.run(t, "journalctl", "-q", "-o", "verbose", "-u", unit, "_COMM=app")
	assert.Contains(t, info, "PRIORITY=3")

	// The instances: "serving" is info, not an error.
	inst := units.App.Instance(0)
	all := c.run(t, "app-reloader", "logs", "0", "-n", "200")
	assert.Contains(t, all, `msg=serving`, "logs shows info lines")
	errOnly := c.run(t, "app-reloader", "logs", "0", "-n", "200", "-p", "err")
	assert.NotContains(t, errOnly, `msg=serving`, "-p err leaves info lines out")
	lines := c.run(t, "journalctl", "-q", "-o", "json", "-u", inst, "-p", "info", "-n", "200", "_COMM=app")
	assert.True(t, strings.Contains(lines, `"PRIORITY":"6"`), "the worker's info lines are priority 6")
	out, err = c.Run(c.ctx, "app-reloader", "logs", "-p", "loud")
	require.Error(t, err)
	assert.Contains(t, out, `--priority: priority "loud": want one of emerg, alert, crit, err, warning, notice, info, debug`)
}
