//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

// fairness is the largest share of requests over the smallest, across the
// given instances.
func fairness(by map[string]int, instances ...string) float64 {
	lo, hi := -1, 0
	for _, i := range instances {
		n := by[i]
		hi = max(hi, n)
		if lo < 0 || n < lo {
			lo = n
		}
	}
	if lo <= 0 {
		return 0
	}
	return float64(hi) / float64(lo)
}

// steeredTo are the instances app-reloader status says new connections go
// to (socket = "reuseport").
func steeredTo(t *testing.T, c *cluster) []string {
	t.Helper()
	st := c.run(t, "app-reloader", "status")
	m := regexp.MustCompile(`(?m)^new connections go to: ([0-9 ]+)$`).FindStringSubmatch(st)
	require.NotNil(t, m, st)
	return strings.Fields(m[1])
}

// socket = "reuseport": one SO_REUSEPORT socket per instance. The kernel
// spreads new connections evenly; an instance taken out (failed release,
// scale-down, crash loop) goes with its socket, so that no share of the
// connections waits for an instance that is not coming back.
func TestReusePortSockets(t *testing.T) {
	const n = 3
	base := "instances = 3\nsocket = \"reuseport\"\n"
	c := newCluster(t, base)
	socks := []string{"app@0.socket", "app@1.socket", "app@2.socket"}
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	assert.Equal(t, []string{"active", "active", "active"}, c.ActiveStates(c.ctx, socks...))
	port := c.addr[strings.LastIndex(c.addr, ":")+1:]
	ss := c.run(t, "ss", "-Hltn", "sport = :"+port)
	assert.Len(t, strings.Split(strings.TrimSpace(ss), "\n"), n, "one listening socket per instance on %s:\n%s", c.addr, ss)
	assert.Contains(t, c.run(t, "systemctl", "show", "-P", "Listen", units.Socket), units.ClusterSocket)
	assert.Contains(t, c.run(t, "curl", "-sS", "--unix-socket", units.ClusterSocket, "http://app/"), "instance=",
		"app.socket serves local clients on a Unix socket")
	// Each instance steered in once ready (app-reloader steer, eBPF).
	assert.ElementsMatch(t, []string{"0", "1", "2"}, steeredTo(t, c), "every instance takes new connections")
	assert.NotContains(t, c.run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "app@*.service"), "steering is not available")

	// The spread of new connections.
	l, err := StartLoad(LoadOptions{Addr: c.addr, NewConn: 8, MaxRequests: 20_000, MaxDuration: 4 * time.Second})
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	res := l.Stop()
	by := res.By(func(s Sample) string { return s.Instance })
	t.Logf("new connections on SO_REUSEPORT sockets: %s; by instance %v, max/min %.2f", res.Summary(), by, fairness(by, "0", "1", "2"))
	assert.Zero(t, res.Failed(), res.Errors(5))
	assert.Len(t, by, n, "every instance answers")

	// A rollout under load: no spare (its socket would reset what is queued
	// on it when it closes), 0 failed.
	l = c.load(t)
	time.Sleep(500 * time.Millisecond)
	before, since := c.pids(t, n), time.Now()
	require.NoError(t, c.InstallWorker(bins["2"]))
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.False(t, rep.Surge)
	assert.Contains(t, rep.SurgeNote, `socket = "reuseport"`)
	c.checkRollout(t, "reuseport rollout", n, before, since, "2", false)
	time.Sleep(500 * time.Millisecond)
	res = l.Stop()
	t.Logf("rollout on SO_REUSEPORT sockets under load: %s", res.Summary())
	assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))

	// A release that cannot start: the rollout halts on app@0 and stops it
	// with its socket; the kernel sends everything to app@1 and app@2.
	l = c.load(t)
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, c.WriteConfig(c.config(base+"script = \"/bin/false\"\n")))
	rep, out, err = c.reload(t)
	require.Error(t, err, out)
	require.NotNil(t, rep.Failure, out)
	assert.Equal(t, "app@0.service", rep.Failure.Unit)
	assert.True(t, rep.Failure.SocketStopped, out)
	assert.Equal(t, []string{"inactive", "active", "active"}, c.ActiveStates(c.ctx, socks...))
	stopped := time.Now()
	time.Sleep(2 * time.Second)
	res = l.Stop()
	after := res.Window(stopped, time.Now())
	t.Logf("failed release on SO_REUSEPORT sockets: %s; after: %s; errors %v", res.Summary(), after.Summary(), res.Errors(3))
	// Steered out before its old process stopped, app@0.socket had nothing
	// queued when it closed (without steering: 4 to 6 reset here).
	assert.Zero(t, res.Failed(), "reset while queued on app@0.socket as it closed: %v", res.Errors(5))
	assert.Zero(t, after.Failed(), "then the other instances take everything: %v", after.Errors(5))
	assert.Equal(t, []string{"inactive"}, c.ActiveStates(c.ctx, "app@0.service"), "not triggered again by its socket")
	assert.ElementsMatch(t, []string{"1", "2"}, steeredTo(t, c), "app@0 is out")

	// Fixed and scaled down: app@0 comes back with its socket, app@2 goes
	// with its socket.
	l = c.load(t)
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, c.WriteConfig(c.config("instances = 2\nsocket = \"reuseport\"\n")))
	rep, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"start", "restart", "stop"}, actions(rep))
	assert.Equal(t, []string{"active", "active", "inactive"}, c.ActiveStates(c.ctx, socks...))
	assert.Equal(t, []string{"active", "active", "inactive"}, c.ActiveStates(c.ctx, c.instances(n)...))
	time.Sleep(time.Second)
	res = l.Stop()
	t.Logf("start app@0 and scale 3→2 on SO_REUSEPORT sockets: %s; errors %v", res.Summary(), res.Errors(3))
	assert.Zero(t, res.Failed(), "app@2 was steered out before it stopped: %v", res.Errors(5))
	assert.Len(t, res.Window(time.Now().Add(-500*time.Millisecond), time.Now()).By(func(s Sample) string { return s.Instance }), 2)

	// A crash loop: the guard keeps app@1 down and stops its socket.
	dropIn := filepath.Join(c.Root, "etc/systemd/system/app@1.service.d")
	require.NoError(t, os.MkdirAll(dropIn, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dropIn, "crash.conf"), []byte("[Service]\nExecStart=\nExecStart=/bin/false\nRestartSec=200ms\n"), 0o644))
	c.run(t, "systemctl", "daemon-reload")
	l = c.load(t)
	c.run(t, "systemctl", "kill", "--signal=KILL", "app@1.service")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && c.ActiveStates(c.ctx, "app@1.socket")[0] != "inactive" {
		time.Sleep(100 * time.Millisecond)
	}
	down := time.Now()
	time.Sleep(2 * time.Second)
	res = l.Stop()
	after = res.Window(down, time.Now())
	t.Logf("crash loop of app@1 on SO_REUSEPORT sockets: %s; after its socket stopped: %s; errors %v", res.Summary(), after.Summary(), res.Errors(3))
	assert.Equal(t, []string{"inactive", "inactive"}, c.ActiveStates(c.ctx, "app@1.socket", "app@1.service"), "kept down with its socket")
	assert.Regexp(t, `app@1.service\s+STOPPED: crash loop`, c.run(t, "app-reloader", "status"))
	assert.Contains(t, c.run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "app@1.service"), "stopping app@1.socket too")
	assert.Zero(t, after.Failed(), "app@0 takes everything: %v", after.Errors(5))
	assert.LessOrEqual(t, res.Failed(), 2*loadClients, "what app@1 had in flight when killed, and what was queued on its socket")
	require.NoError(t, os.RemoveAll(dropIn))
	_, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"active", "active"}, c.ActiveStates(c.ctx, "app@1.socket", "app@1.service"), "a reload brings both back")
	c.assertNoStopTimeouts(t)
}

// applyCommand is the command a refused mode or address change says to run.
var applyCommand = regexp.MustCompile("apply them with `([^`]+)`")

// Switching between one shared socket and one per instance cannot be
// rolled: reload refuses and names the command that applies it.
func TestSocketModeSwitch(t *testing.T) {
	const n = 2
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	for _, mode := range []string{"reuseport", "shared"} {
		before := c.pids(t, n)
		require.NoError(t, c.WriteConfig(c.config("instances = 2\nsocket = \""+mode+"\"\n")))
		out, err := c.Run(c.ctx, "app-reloader", "reload")
		require.Error(t, err, out)
		assert.Contains(t, out, "the listen addresses changed")
		assert.Equal(t, before, c.pids(t, n), "to %s: no instance touched", mode)
		m := applyCommand.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		c.run(t, "sh", "-c", m[1])
		require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))

		wantSocks := []string{"active", "active"}
		if mode == "shared" {
			wantSocks = []string{"inactive", "inactive"}
		}
		assert.Equal(t, wantSocks, c.ActiveStates(c.ctx, "app@0.socket", "app@1.socket"), "to %s", mode)
		l, err := StartLoad(LoadOptions{Addr: c.addr, NewConn: 4, MaxRequests: 20_000, MaxDuration: 2 * time.Second})
		require.NoError(t, err)
		time.Sleep(time.Second)
		res := l.Stop()
		assert.Zero(t, res.Failed(), "to %s: %v", mode, res.Errors(5))
		assert.Len(t, res.By(func(s Sample) string { return s.Instance }), n, "to %s: every instance answers", mode)
		_, out, err = c.reload(t)
		require.NoError(t, err, "to %s: then rollouts work: %s", mode, out)
	}
}

// The reference worker takes connections from the shared socket in turn
// with the other instances (activation.Fair, the default); with Go's own
// accept whichever instance wakes first takes them. Measured side by side.
func TestFairAccept(t *testing.T) {
	const n = 3
	c := newCluster(t, "instances = 3\nsurge = false\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	shares := func() (Result, float64) {
		l, err := StartLoad(LoadOptions{Addr: c.addr, NewConn: 8, MaxRequests: 50_000, MaxDuration: 4 * time.Second})
		require.NoError(t, err)
		time.Sleep(3 * time.Second)
		res := l.Stop()
		return res, fairness(res.By(func(s Sample) string { return s.Instance }), "0", "1", "2")
	}
	fair, fairRatio := shares()
	t.Logf("fair accept: %s; by instance %v, max/min %.2f", fair.Summary(), fair.By(func(s Sample) string { return s.Instance }), fairRatio)

	require.NoError(t, c.WriteConfig(c.config("instances = 3\nsurge = false\n[env]\nAPP_ACCEPT = \"go\"\n")))
	_, out, err := c.reload(t)
	require.NoError(t, err, out)
	goRes, goRatio := shares()
	t.Logf("Go's accept: %s; by instance %v, max/min %.2f", goRes.Summary(), goRes.By(func(s Sample) string { return s.Instance }), goRatio)

	assert.Zero(t, fair.Failed()+goRes.Failed(), "%v %v", fair.Errors(5), goRes.Errors(5))
	assert.Positive(t, fairRatio, "every instance answers")
	// A gross check: taking turns keeps the shares within 1.5 (1.16 and
	// 1.26 in two runs on 2 CPUs shared with the load); one instance
	// taking most of them is a failure. make bench measures the figure.
	assert.LessOrEqual(t, fairRatio, 1.5, "in turn: close to even")
}
