//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
	"example.com/app/worker"
)

// Any language works: the Node.js reference worker takes fd 3 and sends
// READY=1, and rolls over under load like the Go one.
func TestNodeWorker(t *testing.T) {
	const n = 2
	config := func(version string) string {
		return fmt.Sprintf("instances = 2\nscript = \"/usr/bin/node\"\nargs = [%q]\n[env]\nAPP_VERSION = %q\n", worker.NodeJSPath, version)
	}
	c := newCluster(t, config("node-1"))
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	st := c.run(t, "app-reloader", "status")
	assert.Contains(t, st, "serving version node-1", "STATUS= from systemd-notify")

	l := c.load(t)
	time.Sleep(500 * time.Millisecond)
	before, since := c.pids(t, n), time.Now()
	require.NoError(t, c.WriteConfig(c.config(config("node-2"))))
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.OK)
	c.checkRollout(t, "Node worker", n, before, since, "node-2", true)
	time.Sleep(500 * time.Millisecond)
	res := l.Stop()
	t.Logf("Node worker through a rollout: %s; by version %v", res.Summary(), res.By(func(s Sample) string { return s.Version }))
	assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
	c.assertNoStopTimeouts(t)

	// With socket = "reuseport" it gets two sockets (app.socket, now a
	// Unix one, and its own) and serves both.
	require.NoError(t, c.WriteConfig(c.config("socket = \"reuseport\"\n"+config("node-3"))))
	out, err = c.Run(c.ctx, "app-reloader", "reload")
	require.Error(t, err, out)
	apply := applyCommand.FindStringSubmatch(out)
	require.NotNil(t, apply, out)
	c.run(t, "sh", "-c", apply[1])
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	assert.Contains(t, c.run(t, "curl", "-sS", "--unix-socket", units.ClusterSocket, "http://app/"), "version=node-3")
	l, err = StartLoad(LoadOptions{Addr: c.addr, NewConn: 4, MaxRequests: 20_000, MaxDuration: 3 * time.Second})
	require.NoError(t, err)
	time.Sleep(time.Second)
	res = l.Stop()
	assert.Zero(t, res.Failed(), res.Errors(5))
	assert.Len(t, res.By(func(s Sample) string { return s.Instance }), n, "both instances answer on their own sockets")
}
