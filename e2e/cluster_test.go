//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/reloader"
	"example.com/app/units"
)

// bins are the commands built for the tests, by version.
var bins = map[string]string{}

var machines struct {
	sync.Mutex
	open map[*Machine]bool
}

func TestMain(m *testing.M) {
	if err := Prerequisites(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	if err := CleanStale(); err != nil {
		fmt.Fprintln(os.Stderr, "clean up earlier runs:", err)
	}
	// Not dirPrefix: CleanStale must not take a running suite's binaries.
	tmp, err := os.MkdirTemp("", "app-bin-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, v := range []string{"1", "2", "3"} {
		if bins[v], err = Build(context.Background(), tmp+"/v"+v, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(tmp)
			os.Exit(1)
		}
	}
	// An interrupted run still tears its containers and mounts down.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		closeAll()
		os.RemoveAll(tmp)
		os.Exit(1)
	}()
	code := m.Run()
	closeAll()
	os.RemoveAll(tmp)
	os.Exit(code)
}

func closeAll() {
	machines.Lock()
	defer machines.Unlock()
	for m := range machines.open {
		m.Close()
		delete(machines.open, m)
	}
}

// freePort finds a loopback port for this test's socket.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cluster is a booted machine with the cluster installed (version 1) and
// started with the given config.
type cluster struct {
	*Machine
	addr string
	ctx  context.Context
}

func newCluster(t *testing.T, config string) *cluster {
	t.Helper()
	return newClusterAt(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), config)
}

// newClusterAt is newCluster listening on addr, a loopback address.
func newClusterAt(t *testing.T, addr, config string) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	m, err := Boot(ctx)
	require.NoError(t, err)
	track(t, m)
	c := &cluster{Machine: m, addr: addr, ctx: ctx}
	require.NoError(t, m.Install(bins["1"]))
	require.NoError(t, m.WriteConfig(c.config(config)))
	c.run(t, "systemctl", "daemon-reload")
	c.run(t, "systemctl", "enable", "--now", units.Socket, units.Target)
	return c
}

// config puts this cluster's listen address in front of a test's config.
func (c *cluster) config(rest string) string {
	return fmt.Sprintf("listen = [%q]\n%s", c.addr, rest)
}

func (c *cluster) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.Run(c.ctx, args...)
	require.NoError(t, err, out)
	return out
}

// assertNoStopTimeouts checks that no instance had to be killed because it
// did not exit within its stop timeout: a drain must always finish.
func (c *cluster) assertNoStopTimeouts(t *testing.T) {
	t.Helper()
	out := c.run(t, "journalctl", "--no-pager", "-o", "cat", "_PID=1")
	assert.NotContains(t, out, "State 'stop-sigterm' timed out", "an instance did not drain in time")
}

func (c *cluster) instances(n int) []string { return Instances(n) }

func (c *cluster) pids(t *testing.T, n int) map[string]int {
	t.Helper()
	p, err := c.MainPIDs(c.ctx, n)
	require.NoError(t, err)
	return p
}

func (c *cluster) load(t *testing.T) *Load {
	t.Helper()
	l, err := StartLoad(LoadOptions{Addr: c.addr, KeepAlive: 8, NewConn: 4, MaxRequests: 5_000_000, MaxDuration: 3 * time.Minute})
	require.NoError(t, err)
	return l
}

// versionsAt is which versions answer at addr, from ns (nil: this
// machine's namespace), under a short bounded load that must not fail.
func versionsAt(t *testing.T, addr string, ns *NetNS) map[string]int {
	t.Helper()
	l, err := StartLoad(LoadOptions{Addr: addr, NetNS: ns, NewConn: 4, MaxRequests: 400, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	res := l.Stop()
	assert.Zero(t, res.Failed(), res.Errors(5))
	return res.By(func(s Sample) string { return s.Version })
}

// reload runs app-reloader reload --json in the container and returns its
// report, output and error.
func (c *cluster) reload(t *testing.T) (reloader.Report, string, error) {
	t.Helper()
	out, err := c.Run(c.ctx, "app-reloader", "reload", "--json")
	var rep reloader.Report
	if i := strings.Index(out, "{"); i >= 0 {
		// The report is followed by the error line on failure.
		_ = json.NewDecoder(strings.NewReader(out[i:])).Decode(&rep)
	}
	return rep, out, err
}

func TestClusterStartsAndServes(t *testing.T) {
	c := newCluster(t, "instances = 3\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, append([]string{units.Socket, units.Target}, c.instances(3)...)...))
	assert.Equal(t, []string{"active"}, c.ActiveStates(c.ctx, units.Socket))
	assert.Contains(t, c.run(t, "systemctl", "show", "-P", "Listen", units.Socket), c.addr+" (Stream)")

	// Concurrent new connections until every instance has answered.
	l, err := StartLoad(LoadOptions{Addr: c.addr, NewConn: 8, MaxRequests: 50_000, MaxDuration: 20 * time.Second})
	require.NoError(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if len(l.Instances()) == 3 {
			break
		}
	}
	res := l.Stop()
	t.Logf("steady load: %s; by instance %v", res.Summary(), res.By(func(s Sample) string { return s.Instance }))
	assert.Zero(t, res.Failed(), res.Errors(5))
	assert.Len(t, res.By(func(s Sample) string { return s.Instance }), 3, "every instance answers")
	assert.Equal(t, map[string]int{"1": res.Served()}, res.By(func(s Sample) string { return s.Version }))

	// The installed units, with the generator's drop-ins, verify clean.
	verify, err := c.Run(c.ctx, "systemd-analyze", "verify", "--man=no",
		units.Socket, units.Target, units.Reload, units.Instance(0))
	assert.NoError(t, err, verify)
	assert.Empty(t, strings.TrimSpace(verify), "systemd-analyze verify")

	st := c.run(t, "app-reloader", "status")
	for _, u := range c.instances(3) {
		assert.Regexp(t, u+`\s+active\s+[0-9]+`, st)
	}
	assert.Contains(t, st, "serving version 1")
	assert.Contains(t, st, "socket app.socket: active/")
}

// checkRollout checks one rolling reload under load, checked the same way whatever
// started it. With surge, a spare carried the capacity: never fewer than n
// instances served.
func (c *cluster) checkRollout(t *testing.T, how string, n int, before map[string]int, since time.Time, version string, surge bool) {
	t.Helper()
	after := c.pids(t, n)
	for u, pid := range before {
		assert.NotEqual(t, pid, after[u], "%s: %s has a new PID", how, u)
		assert.NotZero(t, after[u], "%s: %s runs", how, u)
	}
	evs, err := c.Events(c.ctx, since)
	require.NoError(t, err)
	assert.Equal(t, 1, MaxDown(evs), "%s: exactly one instance down at a time; events %v", how, evs)
	var order []string
	for _, e := range evs {
		if e.Verb == "Stopping" && e.Unit != units.Spare {
			order = append(order, e.Unit)
		}
	}
	assert.Equal(t, c.instances(n), order, "%s: instances restarted in order", how)
	least := MinUp(evs, c.instances(n))
	if surge {
		assert.GreaterOrEqual(t, least, n, "%s: the spare kept %d instances serving throughout; events %v", how, n, evs)
		assert.Equal(t, "Stopped", evs[len(evs)-1].Verb, "%s: the spare is stopped last", how)
		assert.Equal(t, units.Spare, evs[len(evs)-1].Unit, "%s: the spare is stopped last", how)
		assert.Equal(t, []string{"inactive"}, c.ActiveStates(c.ctx, units.Spare), "%s: no spare left running", how)
	} else {
		assert.Equal(t, n-1, least, "%s: without a spare, one instance is down at a time", how)
	}
	t.Logf("%s: fewest instances serving at once %d of %d", how, least, n)
	total := evs[len(evs)-1].At.Sub(evs[0].At)
	var sum time.Duration
	for _, d := range StartupTimes(evs) {
		sum += d
	}
	t.Logf("%s: first Stopping to last Started %s; sum of the instances' own start-up times %s", how, total.Round(time.Millisecond), sum.Round(time.Millisecond))

	// Every instance now answers with the new version.
	l, err := StartLoad(LoadOptions{Addr: c.addr, NetNS: c.NetNS, NewConn: 4, MaxRequests: 2000, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	time.Sleep(time.Second)
	res := l.Stop()
	assert.Equal(t, map[string]int{version: res.Served()}, res.By(func(s Sample) string { return s.Version }), "%s: only version %s answers", how, version)
}

func TestRollingReloadUnderLoad(t *testing.T) {
	const n = 3
	c := newCluster(t, "instances = 3\n[env]\nAPP_STARTUP_DELAY = \"300ms\"\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))

	l := c.load(t)
	time.Sleep(time.Second)

	// Version 2 through app-reloader reload.
	require.NoError(t, c.InstallWorker(bins["2"]))
	before, since := c.pids(t, n), time.Now()
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.OK)
	assert.True(t, rep.Surge, "surge is on by default: %s", rep.SurgeNote)
	require.Len(t, rep.Steps, n+2)
	assert.Equal(t, reloader.Step{Unit: units.Spare, Action: reloader.ActionSurge}, reloader.Step{Unit: rep.Steps[0].Unit, Action: rep.Steps[0].Action})
	assert.Equal(t, reloader.Step{Unit: units.Spare, Action: reloader.ActionStop}, reloader.Step{Unit: rep.Steps[n+1].Unit, Action: rep.Steps[n+1].Action})
	var stepSum time.Duration
	for i, s := range rep.Steps[1 : n+1] {
		assert.Equal(t, units.Instance(i), s.Unit)
		assert.Equal(t, reloader.ActionRestart, s.Action)
		assert.Equal(t, uint32(before[s.Unit]), s.OldPID)
		stepSum += s.Took
	}
	assert.Contains(t, out, "[1/5] app@spare.service: starting the spare", "progress is printed as it goes")
	assert.Contains(t, out, "[2/5] app@0.service: restarting")
	t.Logf("app-reloader reload: total %s, sum of the restart steps %s, spare up in %s, down in %s", rep.Took.Round(time.Millisecond),
		stepSum.Round(time.Millisecond), rep.Steps[0].Took.Round(time.Millisecond), rep.Steps[n+1].Took.Round(time.Millisecond))
	c.checkRollout(t, "app-reloader reload", n, before, since, "2", true)

	// Version 3 through systemctl reload-or-restart app.target.
	time.Sleep(500 * time.Millisecond)
	require.NoError(t, c.InstallWorker(bins["3"]))
	before, since = c.pids(t, n), time.Now()
	start := time.Now()
	c.run(t, "systemctl", "reload-or-restart", units.Target)
	t.Logf("systemctl reload-or-restart app.target returned after %s", time.Since(start).Round(time.Millisecond))
	c.checkRollout(t, "systemctl reload-or-restart", n, before, since, "3", true)

	time.Sleep(500 * time.Millisecond)
	res := l.Stop()
	t.Logf("load through both rollouts: %s; by version %v", res.Summary(), res.By(func(s Sample) string { return s.Version }))
	assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
	assert.Greater(t, res.Served(), 1000, "the load ran")

	st := c.run(t, "app-reloader", "status")
	assert.Contains(t, st, "last rollout: ok")
	c.assertNoStopTimeouts(t)

	// The spare runs only during a rollout.
	out, err = c.Run(c.ctx, "systemctl", "start", units.Spare)
	assert.Error(t, err, "starting the spare outside a rollout is refused")
	assert.Contains(t, out, "Unit app-rollout.scope not found")

	// Only one rollout at a time: a second one is refused while the first
	// holds the lock (each instance takes 300 ms to warm up).
	first := make(chan error, 1)
	go func() { _, err := c.Run(c.ctx, "app-reloader", "reload"); first <- err }()
	time.Sleep(200 * time.Millisecond)
	out, err = c.Run(c.ctx, "app-reloader", "reload")
	assert.Error(t, err, "a concurrent reload must be refused")
	assert.Contains(t, out, "another rollout is running (pid ")
	assert.NoError(t, <-first, "the first rollout completes")
}

func TestRestartTargetIsHardRestart(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	before, since := c.pids(t, 2), time.Now()
	c.run(t, "systemctl", "restart", units.Target)
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	after := c.pids(t, 2)
	for u := range before {
		assert.NotEqual(t, before[u], after[u], "%s restarted", u)
	}
	evs, err := c.Events(c.ctx, since)
	require.NoError(t, err)
	assert.Equal(t, 2, MaxDown(evs), "restart of the target stops every instance together: %v", evs)

	// Hard restarts by hand are no crash loop, however many: only starts
	// that follow a failure count (found when the socket mode was switched
	// back and forth: every instance was kept down).
	require.NoError(t, c.WriteConfig(c.config("instances = 2\nmax_restarts = 1\n")))
	c.run(t, "systemctl", "daemon-reload")
	for i := 0; i < 4; i++ {
		c.run(t, "systemctl", "restart", units.Target)
		require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...), "restart %d of the target", i+1)
		c.run(t, "systemctl", "restart", "app@0.service")
	}
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	st := c.run(t, "app-reloader", "status")
	assert.NotContains(t, st, "crash loop", st)
	for u, pid := range c.pids(t, 2) {
		assert.NotZero(t, pid, "%s serving", u)
	}
}

func TestBrokenReleaseHalts(t *testing.T) {
	for _, tc := range []struct {
		name, config, reason string
	}{
		{"exits at start", "script = \"/bin/false\"\n", "result exit-code, exit status 1"},
		{"never ready", "script = \"/bin/sleep\"\nargs = [\"600\"]\nlisten_timeout = \"2s\"\n", "result timeout"},
	} {
		for _, surge := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/surge=%v", tc.name, surge), func(t *testing.T) {
				const n = 3
				base := fmt.Sprintf("instances = 3\nsurge = %v\n", surge)
				c := newCluster(t, base)
				require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
				l := c.load(t)
				time.Sleep(500 * time.Millisecond)

				before, since := c.pids(t, n), time.Now()
				require.NoError(t, c.WriteConfig(c.config(base+tc.config)))
				rep, out, err := c.reload(t)
				require.Error(t, err, "a failed rollout exits non-zero")
				assert.Contains(t, out, tc.reason)
				require.NotNil(t, rep.Failure, out)
				assert.NotEmpty(t, rep.Failure.Journal, "the failure shows the instance's last log lines")
				after := c.pids(t, n)
				evs, err := c.Events(c.ctx, since)
				require.NoError(t, err)
				least := MinUp(evs, c.instances(n))
				if surge {
					assert.Contains(t, out, "app-reloader reload: surge app@spare.service: job ")
					assert.Contains(t, out, "no instance was touched")
					assert.Equal(t, units.Spare, rep.Failure.Unit)
					assert.True(t, rep.Failure.Spare)
					assert.Equal(t, before, after, "caught on the spare: every instance keeps its old process")
					assert.Equal(t, n, least, "capacity never dropped below %d; events %v", n, evs)
					assert.Equal(t, []string{"inactive"}, c.ActiveStates(c.ctx, units.Spare), "the failed spare is not left behind")
				} else {
					assert.Contains(t, out, "app-reloader reload: restart app@0.service: job ")
					assert.Equal(t, "app@0.service", rep.Failure.Unit)
					require.Len(t, rep.Steps, 1, "the rollout halts on the first instance")
					for _, u := range c.instances(n)[1:] {
						assert.Equal(t, before[u], after[u], "%s keeps its old process", u)
					}
				}
				time.Sleep(time.Second)
				res := l.Stop()
				t.Logf("load through the failed rollout: %s; fewest instances serving %d of %d", res.Summary(), least, n)
				assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
				assert.Contains(t, c.run(t, "app-reloader", "status"), "last rollout: FAILED")

				// Fixing the release and reloading recovers.
				require.NoError(t, c.WriteConfig(c.config(base)))
				_, out, err = c.reload(t)
				require.NoError(t, err, out)
				require.NoError(t, c.WaitActive(c.ctx, 10*time.Second, c.instances(n)...))
				// Regression: the crash-looping instance used to switch the shared
				// socket to blocking mode, and healthy instances then hung in
				// their drain until SIGKILL.
				c.assertNoStopTimeouts(t)
			})
		}
	}
}

func TestScaleUpAndDown(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	l := c.load(t)

	require.NoError(t, c.WriteConfig(c.config("instances = 4\n")))
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"surge", "restart", "restart", "start", "start", "stop"}, actions(rep))
	assert.Equal(t, []string{"active", "active", "active", "active"}, c.ActiveStates(c.ctx, c.instances(4)...))

	require.NoError(t, c.WriteConfig(c.config("instances = 1\n")))
	rep, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"surge", "restart", "stop", "stop", "stop", "stop"}, actions(rep))
	assert.Equal(t, []string{"active", "inactive", "inactive", "inactive"}, c.ActiveStates(c.ctx, c.instances(4)...))

	// surge = "auto" skips the spare when one more instance may not fit in
	// the machine's available memory (here: a 1T memory limit), and says so.
	require.NoError(t, c.WriteConfig(c.config("instances = 1\nmax_memory_restart = \"1T\"\n")))
	rep, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.False(t, rep.Surge)
	assert.Contains(t, rep.SurgeNote, "of memory available, one more instance may need 1.0T")
	assert.Equal(t, []string{"restart"}, actions(rep))

	// After a reboot-equivalent daemon-reload, only app@0 is wanted.
	wants := c.run(t, "systemctl", "show", "-P", "Wants", units.Target)
	assert.Contains(t, wants, "app@0.service")
	assert.NotContains(t, wants, "app@1.service")

	res := l.Stop()
	t.Logf("load through scaling 2→4→1: %s", res.Summary())
	assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
}

func TestBadConfigTouchesNothing(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	before := c.pids(t, 2)

	for _, tc := range []struct{ config, want string }{
		{"instances = 2\nkill_timeout = \"forever\"\n", `/etc/app/app.toml:3: "forever": want a duration`},
		{"instances = 2\nuser = \"root\"\n", `/etc/app/app.toml:3: user: "root": the instances face the network and must not run as root`},
		{"instances = 2\ncwd = \"/home/someone/app\"\n", `/etc/app/app.toml:3: cwd: "/home/someone/app" is under /home`},
		{"instances = 2\nmemory_deny_write_execute = \"maybe\"\n", `/etc/app/app.toml:3: memory_deny_write_execute: "maybe": want true`},
		{"instances = 2\nread_write_paths = [\"/\"]\n", `/etc/app/app.toml:3: read_write_paths: "/": want a clean absolute path other than /`},
		{"instances = 2\n[env\n", `/etc/app/app.toml:4: expected '.' or ']' to end table name`},
		{"instances = 2\n\x00\xff\n", `/etc/app/app.toml:3: TOML files cannot contain control characters`},
	} {
		require.NoError(t, c.WriteConfig(c.config(tc.config)))
		out, err := c.Run(c.ctx, "app-reloader", "check")
		require.Error(t, err, tc.config)
		assert.Contains(t, out, tc.want, tc.config)

		out, err = c.Run(c.ctx, "app-reloader", "reload")
		require.Error(t, err, tc.config)
		assert.Contains(t, out, tc.want, tc.config)
		assert.Contains(t, out, "nothing was changed", tc.config)
	}

	// Through systemd too: systemctl itself says nothing (a known systemd
	// behaviour for propagated reloads), but nothing restarts.
	_, _ = c.Run(c.ctx, "systemctl", "reload-or-restart", units.Target)
	assert.Equal(t, before, c.pids(t, 2), "running instances are untouched")
	assert.Equal(t, []string{"active", "active"}, c.ActiveStates(c.ctx, c.instances(2)...))
}

func actions(rep reloader.Report) []string {
	var out []string
	for _, s := range rep.Steps {
		out = append(out, s.Action)
	}
	return out
}

// A release that sends READY=1 and then dies is caught by the hold
// (min_uptime), not after the rollout has moved on.
func TestHoldCatchesCrashAfterReady(t *testing.T) {
	const n = 3
	c := newCluster(t, "instances = 3\nmin_uptime = \"1s\"\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))

	// A steady release passes, each instance watched for its hold.
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	for _, s := range rep.Steps {
		if s.Action != reloader.ActionStop {
			assert.GreaterOrEqual(t, s.Took-s.Ready, time.Second, "%s was held for min_uptime", s.Unit)
		}
	}
	assert.Contains(t, out, ", stayed up 1")

	// This release is killed one second after it said READY=1.
	before := c.pids(t, n)
	require.NoError(t, c.WriteConfig(c.config("instances = 3\nmin_uptime = \"3s\"\n"+
		"script = \"/bin/sh\"\nargs = [\"-c\", \"(sleep 1; kill -KILL $$) & exec /usr/bin/app\"]\n")))
	l := c.load(t)
	rep, out, err = c.reload(t)
	time.Sleep(500 * time.Millisecond)
	res := l.Stop()
	require.Error(t, err, out)
	assert.Contains(t, out, "surge app@spare.service: died during the 3s hold after READY=1")
	require.NotNil(t, rep.Failure)
	assert.Equal(t, units.Spare, rep.Failure.Unit, "caught on the spare")
	assert.Equal(t, []string{"surge", "stop"}, actions(rep))
	assert.Equal(t, before, c.pids(t, n), "every instance keeps its old process")
	// The killed instance drops what it had in flight; the others serve on.
	t.Logf("load through the crash-after-ready rollout: %s; errors %v", res.Summary(), res.Errors(3))
}

// The HTTP probe reaches each instance through its own socket, passes a
// healthy release and halts one whose health check fails: on the spare
// with surge, on the first instance without.
func TestHealthProbe(t *testing.T) {
	const n = 2
	base := "instances = 2\nprobe_path = \"/healthz\"\nprobe_timeout = \"2s\"\n"
	c := newCluster(t, base)
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	for i := 0; i < n; i++ {
		out := c.run(t, "curl", "-sSi", "--max-time", "5", "--unix-socket", units.ProbeSocket(fmt.Sprint(i)), "http://app/healthz")
		assert.Contains(t, out, fmt.Sprintf("X-Instance: %d", i), "app@%d answers on its own probe socket", i)
	}
	l := c.load(t)

	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.OK)

	sick := "[env]\nAPP_HEALTHZ_STATUS = \"503\"\n"
	for _, tc := range []struct{ config, want, unit string }{
		{base + sick, "surge app@spare.service: health probe failed: GET /healthz via /run/app/probe/spare/http.sock: status 503", units.Spare},
		{base + "surge = false\n" + sick, "restart app@0.service: health probe failed: GET /healthz via /run/app/probe/0/http.sock: status 503", "app@0.service"},
	} {
		before := c.pids(t, n)
		require.NoError(t, c.WriteConfig(c.config(tc.config)))
		rep, out, err = c.reload(t)
		require.Error(t, err, out)
		assert.Contains(t, out, tc.want)
		require.NotNil(t, rep.Failure, out)
		assert.Equal(t, tc.unit, rep.Failure.Unit)
		after := c.pids(t, n)
		assert.Equal(t, before["app@1.service"], after["app@1.service"], "app@1 keeps its old process")
		if tc.unit == units.Spare {
			assert.Equal(t, before, after, "caught on the spare: no instance touched")
		}
	}

	require.NoError(t, c.WriteConfig(c.config(base)))
	_, out, err = c.reload(t)
	require.NoError(t, err, out)
	res := l.Stop()
	t.Logf("load through the probed rollouts: %s", res.Summary())
	// The unhealthy app@0 of the run without surge still served traffic:
	// the probe, not the load, is what judges it.
	assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
}

// A rollout skips the daemon-reload when neither the configuration nor a
// unit file changed, and still notices either change on the real systemd.
func TestReloadSkipsNeedlessDaemonReload(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))

	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.False(t, rep.Unchanged, "the first rollout after boot reloads: nothing recorded yet")
	rep, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.Unchanged, "nothing changed since")
	assert.Zero(t, rep.DaemonReload)

	// The configuration changed: applied.
	require.NoError(t, c.WriteConfig(c.config("instances = 2\n[env]\nFROM_CONFIG = \"1\"\n")))
	rep, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.False(t, rep.Unchanged)
	assert.Positive(t, rep.DaemonReload)
	assert.Equal(t, "1", environOf(t, c.hostPID(t, "app@0.service"))["FROM_CONFIG"])

	// An operator's drop-in: noticed through NeedDaemonReload, applied.
	c.run(t, "mkdir", "-p", "/etc/systemd/system/app@.service.d")
	c.run(t, "sh", "-c", "printf '[Service]\\nEnvironment=FROM_DROPIN=1\\n' > /etc/systemd/system/app@.service.d/override.conf")
	rep, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.False(t, rep.Unchanged, "the new drop-in is noticed")
	assert.Contains(t, c.run(t, "systemctl", "show", "-P", "Environment", "app@1.service"), "FROM_DROPIN=1")

	rep, out, err = c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.Unchanged, "and then nothing changed")
	t.Logf("rollout of 2 instances without daemon-reload: %s", rep.Took.Round(time.Millisecond))
}

// Moving the socket to another address cannot be rolled: on daemon-reload
// systemd would close the old address and not open the new one (measured:
// the restarted instance then had no socket). The reload refuses before
// touching anything, and says how to apply it.
func TestListenChangeRefused(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	before := c.pids(t, 2)
	other := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	require.NoError(t, c.WriteConfig(fmt.Sprintf("listen = [%q]\ninstances = 2\n", other)))

	out, err := c.Run(c.ctx, "app-reloader", "reload")
	require.Error(t, err)
	assert.Contains(t, out, "the listen addresses changed: app.socket listens on "+c.addr+" and the configuration says "+other)
	apply := applyCommand.FindStringSubmatch(out)
	require.NotNil(t, apply, "the error says how to apply it: %s", out)
	assert.Equal(t, before, c.pids(t, 2), "no instance touched")
	assert.Contains(t, c.run(t, "ss", "-ltnp", "sport = :"+c.addr[strings.LastIndex(c.addr, ":")+1:]), `"systemd",pid=1`,
		"systemd still holds the old address")
	l, err := StartLoad(LoadOptions{Addr: c.addr, NewConn: 4, MaxRequests: 2000, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	res := l.Stop()
	assert.Zero(t, res.Failed(), "the old address still serves: %v", res.Errors(5))
	assert.Len(t, res.By(func(s Sample) string { return s.Instance }), 2, "on both instances")

	// Applied the way the error says.
	c.run(t, "sh", "-c", apply[1])
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	l, err = StartLoad(LoadOptions{Addr: other, NewConn: 2, MaxRequests: 200, MaxDuration: 10 * time.Second})
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	res = l.Stop()
	assert.Zero(t, res.Failed(), res.Errors(5))
	assert.Positive(t, res.Served(), "the new address serves")
	_, out, err = c.reload(t)
	assert.NoError(t, err, "and rollouts work again: %s", out)
}
