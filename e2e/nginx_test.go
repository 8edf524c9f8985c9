//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nginxConfig is the example the package ships, pointed at upstream and
// listening on listen (both loopback).
func nginxConfig(t *testing.T, upstream, listen string) string {
	t.Helper()
	b, err := os.ReadFile("../packaging/nginx.conf")
	require.NoError(t, err)
	conf := strings.Replace(string(b), "server 127.0.0.1:8080;", "server "+upstream+";", 1)
	conf = strings.Replace(conf, "\tlisten 80;\n", "\tlisten "+listen+";\n", 1)
	conf = strings.Replace(conf, "\tlisten [::]:80;\n", "", 1)
	require.NotEqual(t, string(b), conf)
	return conf
}

// installNginx installs Debian's nginx in the container (only there: its
// root is an overlay) with the given site, and starts it.
func (c *cluster) installNginx(t *testing.T, site string) {
	t.Helper()
	// Not started by the install (installDebs): its default site would
	// take port 80 of the network namespace the container shares with
	// this machine.
	c.installDebs(t, aptDownload(t, "nginx"), nginxDebs...)
	c.run(t, "rm", "-f", "/etc/nginx/sites-enabled/default")
	require.NoError(t, os.WriteFile(filepath.Join(c.Root, "etc/nginx/sites-enabled/app"), []byte(site), 0o644))
	c.run(t, "nginx", "-t", "-q")
	c.run(t, "systemctl", "start", "nginx.service")
	t.Logf("nginx: %s", strings.TrimSpace(c.run(t, "nginx", "-v")))
}

// Behind Debian's nginx with upstream keep-alive, as the setup this project
// started from: rollouts under load through nginx fail no request and
// return no 502.
func TestBehindNginx(t *testing.T) {
	const n = 3
	c := newCluster(t, "instances = 3\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	front := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.installNginx(t, nginxConfig(t, c.addr, front))

	l, err := StartLoad(LoadOptions{Addr: front, KeepAlive: 8, NewConn: 4, MaxRequests: 5_000_000, MaxDuration: 3 * time.Minute})
	require.NoError(t, err)
	time.Sleep(time.Second)

	for _, v := range []string{"2", "3"} {
		require.NoError(t, c.InstallWorker(bins[v]))
		before, since := c.pids(t, n), time.Now()
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		assert.True(t, rep.OK)
		c.checkRollout(t, "rollout to "+v+" behind nginx", n, before, since, v, true)
		time.Sleep(time.Second)
	}
	res := l.Stop()
	t.Logf("through nginx, two rollouts: %s; by version %v", res.Summary(), res.By(func(s Sample) string { return s.Version }))
	assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
	assert.Greater(t, res.Served(), 1000, "the load ran")
	bad := res.By(func(s Sample) string {
		if strings.HasPrefix(s.Err, "502") {
			return "502"
		}
		return ""
	})
	assert.Zero(t, bad["502"], "502 Bad Gateway")

	// What nginx saw: connections an instance closed under it, which it
	// retried on a new one.
	logs := c.run(t, "cat", "/var/log/nginx/error.log")
	retried := len(regexp.MustCompile(`upstream prematurely closed|Connection reset by peer|Broken pipe`).FindAllString(logs, -1))
	t.Logf("nginx error.log: %d upstream connections closed under a request (each retried on a new connection)", retried)
	c.assertNoStopTimeouts(t)
}
