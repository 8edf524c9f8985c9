//go:build e2e

package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

// maxExposure is what the suite allows `systemd-analyze security` to rate
// an instance (the goal is 1.5; the README has the figure).
const maxExposure = 1.5

var exposureLine = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// exposure is systemd-analyze's rating of a loaded unit.
func (c *cluster) exposure(t *testing.T, unit string) float64 {
	t.Helper()
	out, _ := c.Run(c.ctx, "systemd-analyze", "security", "--no-pager", unit) // exits non-zero above its threshold
	m := exposureLine.FindStringSubmatch(out)
	require.NotNil(t, m, "systemd-analyze security %s:\n%s", unit, out)
	x, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return x
}

// procStatus is statusOf a process that must exist.
func (c *cluster) procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	st, err := statusOf(pid)
	require.NoError(t, err)
	return st
}

// hostPID is the host's PID of an instance's main process.
func (c *cluster) hostPID(t *testing.T, unit string) int {
	t.Helper()
	pid, err := c.HostPID(c.ctx, unit)
	require.NoError(t, err)
	return pid
}

// TestSandbox: an instance runs unprivileged in systemd's sandbox, rated
// by systemd-analyze, and still binds nothing itself: port 80 works
// without any capability because the socket comes from systemd.
func TestSandbox(t *testing.T) {
	c := newClusterAt(t, "127.0.0.77:80", "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))

	t.Logf("systemd-analyze security %s: exposure %.1f", units.Reload, c.exposure(t, units.Reload))
	x := c.exposure(t, "app@0.service")
	t.Logf("systemd-analyze security app@0.service: exposure %.1f", x)
	assert.LessOrEqual(t, x, maxExposure, "systemd-analyze security app@0.service")

	st := c.procStatus(t, c.hostPID(t, "app@0.service"))
	t.Logf("app@0: Uid %s, CapEff %s, CapBnd %s, NoNewPrivs %s, Seccomp %s", st["Uid"], st["CapEff"], st["CapBnd"], st["NoNewPrivs"], st["Seccomp"])
	assert.NotEqual(t, "0", strings.Fields(st["Uid"])[0], "not root")
	assert.Equal(t, "0000000000000000", st["CapEff"], "no capability")
	assert.Equal(t, "0000000000000000", st["CapBnd"], "none to gain either")
	assert.Equal(t, "1", st["NoNewPrivs"])
	assert.Equal(t, "2", st["Seccomp"], "a system call filter")

	l, err := StartLoad(LoadOptions{Addr: c.addr, KeepAlive: 2, NewConn: 2, MaxRequests: 5_000, MaxDuration: 2 * time.Second})
	require.NoError(t, err)
	time.Sleep(time.Second)
	res := l.Stop()
	assert.Zero(t, res.Failed(), res.Errors(5))
	assert.NotZero(t, res.Served(), "port 80 serves with no capability")

	// A rollout (and the crash-loop guard, run with "+" as root) works in
	// the sandbox.
	before, since := c.pids(t, 2), time.Now()
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.OK)
	c.checkRollout(t, "sandboxed", 2, before, since, "1", true)
}

// TestSandboxAsConfiguredUser: `user` runs the instances as an existing
// account, which may keep the app in its home.
func TestSandboxAsConfiguredUser(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	c.run(t, "useradd", "--create-home", "--shell", "/bin/sh", "deployer")
	c.run(t, "install", "-d", "-o", "deployer", "-m", "0700", "/home/deployer/app", "/home/deployer/app/data")
	require.NoError(t, c.WriteConfig(c.config("instances = 2\nuser = \"deployer\"\ncwd = \"/home/deployer/app\"\nread_write_paths = [\"/home/deployer/app/data\"]\n")))
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.OK)
	uid := strings.TrimSpace(c.run(t, "id", "-u", "deployer"))
	for _, u := range c.instances(2) {
		st := c.procStatus(t, c.hostPID(t, u))
		assert.Equal(t, uid, strings.Fields(st["Uid"])[0], "%s runs as deployer", u)
		assert.Equal(t, "0000000000000000", st["CapEff"], u)
	}
	assert.Equal(t, "/home/deployer/app", strings.TrimSpace(c.run(t, "systemctl", "show", "-P", "WorkingDirectory", "app@0.service")))
}
