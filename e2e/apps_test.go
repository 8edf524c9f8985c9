//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/reloader"
	"example.com/app/units"
	"example.com/app/worker"
)

// TestSeveralApps: two apps on one host, as pm2's apps: [...] has them.
// The package's own (the reference worker, app.socket, app@N) and "web"
// (a Node server, /etc/app/apps.d/web.toml: app-web.socket, app-web@N),
// both under load throughout: each rolled on its own, a broken release of
// one, scale, `systemctl reload-or-restart app.target` (both), an upgrade
// of the package (both), a reboot, a removal. The other app's instances
// and socket are never touched, and neither load fails a request.
func TestSeveralApps(t *testing.T) {
	requireDefaultAddrFree(t)
	// The upgrade is a Debian revision: a packaging-only fix of 1.0.0.
	v1, v2 := buildDeb(t, "1.0.0-1", ""), buildDeb(t, "1.0.0-2", "")
	c := bootPackaged(t)
	ctx := c.ctx
	web := units.AppCluster("web")
	webAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var n int // the package's app's instances ("auto")
	webN := 2

	webConfig := func(version, script string) string {
		return fmt.Sprintf("listen = [%q]\ninstances = %d\nscript = \"/usr/bin/node\"\nargs = [%q]\n[env]\nAPP_VERSION = %q\n", webAddr, webN, script, version)
	}
	writeWeb := func(cfg string) {
		p := filepath.Join(c.Root, web.ConfigPath())
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(cfg), 0o640))
	}
	pids := func(cl units.Cluster, n int) map[string]int {
		p, err := c.AppPIDs(ctx, cl, n)
		require.NoError(t, err)
		return p
	}
	// loads runs a load on each app while f runs, and says what each
	// served: 0 failed on both, whatever f did to one of them.
	loads := func(t *testing.T, what string, f func()) {
		t.Helper()
		la, err := StartLoad(LoadOptions{Addr: c.addr, KeepAlive: 4, NewConn: 2, MaxRequests: 5_000_000, MaxDuration: 3 * time.Minute})
		require.NoError(t, err)
		lw, err := StartLoad(LoadOptions{Addr: webAddr, KeepAlive: 4, NewConn: 2, MaxRequests: 5_000_000, MaxDuration: 3 * time.Minute})
		require.NoError(t, err)
		time.Sleep(500 * time.Millisecond)
		f()
		time.Sleep(500 * time.Millisecond)
		ra, rw := la.Stop(), lw.Stop()
		t.Logf("%s: app %s, by version %v; web %s, by version %v", what, ra.Summary(), ra.By(func(s Sample) string { return s.Version }), rw.Summary(), rw.By(func(s Sample) string { return s.Version }))
		assert.Zero(t, ra.Failed(), "app: %v", ra.Errors(5))
		assert.Zero(t, rw.Failed(), "web: %v", rw.Errors(5))
	}

	step(t, "install, and a second app beside the package's", func(t *testing.T) {
		out := c.run(t, "sh", "-c", "cd /root && apt-get install -y ./"+filepath.Base(c.put(t, v1)))
		t.Logf("apt-get install:\n%s", tail(out, 3))
		var err error
		n, err = c.ConfiguredInstances(ctx)
		require.NoError(t, err)
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, c.instances(n)...))
		writeWeb(webConfig("w1", worker.NodeJSPath))
		out = c.run(t, "app-reloader", "check")
		assert.Contains(t, out, web.ConfigPath()+": ok (app web, 2 instances, listen "+webAddr)
		before := pids(units.App, n)
		out = c.run(t, "app-reloader", "reload", "web")
		t.Logf("app-reloader reload web:\n%s", tail(out, 6))
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, web.Socket(), web.Target(), web.Instance(0), web.Instance(1)))
		assert.Equal(t, before, pids(units.App, n), "the package's app untouched")
		assert.Equal(t, []string{"w1"}, keys(versionsAt(t, webAddr, nil)))
		assert.Equal(t, []string{"1.0.0-1"}, keys(versionsAt(t, c.addr, nil)))

		// Each app its own dynamic user.
		users := map[string]bool{}
		for _, u := range []string{units.App.Instance(0), web.Instance(0)} {
			st := c.procStatus(t, c.hostPID(t, u))
			users[strings.Fields(st["Uid"])[0]] = true
		}
		assert.Len(t, users, 2, "app and web run as different users")
		assert.Equal(t, "app-web-worker", strings.TrimSpace(c.run(t, "systemctl", "show", "-P", "User", web.Instance(0))))

		// Listed as pm2 list lists them; --json says which app.
		out = c.run(t, "app-reloader", "status")
		assert.Contains(t, out, "== app\n")
		assert.Contains(t, out, "== web\n")
		assert.Contains(t, out, web.Instance(1))
		var st reloader.Status
		require.NoError(t, json.Unmarshal([]byte(c.run(t, "app-reloader", "status", "--json")), &st))
		assert.Equal(t, "app", st.App)
		require.Len(t, st.OtherApps, 1)
		assert.Equal(t, "web", st.OtherApps[0].App)
		assert.Len(t, st.OtherApps[0].Instances, webN)
		assert.Contains(t, c.run(t, "app-reloader", "describe", "web:1"), web.Instance(1))
		assert.Contains(t, c.run(t, "app-reloader", "logs", "-n", "5", "web"), "web@")
	})

	step(t, "two apps may not listen on one address", func(t *testing.T) {
		p := filepath.Join(c.Root, units.AppsDir, "clash.toml")
		require.NoError(t, os.WriteFile(p, []byte("# the same address as the package's app\nlisten = [\""+c.addr+"\"]\n"), 0o640))
		out, err := c.Run(ctx, "app-reloader", "check")
		require.Error(t, err)
		assert.Contains(t, out, units.AppsDir+"/clash.toml:2: listen \""+c.addr+"\": "+units.DefaultConfigPath)
		require.NoError(t, os.Remove(p))
	})

	step(t, "each app rolls on its own", func(t *testing.T) {
		loads(t, "app-reloader reload app, then systemctl reload app-web.target", func() {
			beforeApp, beforeWeb := pids(units.App, n), pids(web, webN)
			c.run(t, "app-reloader", "reload", "app")
			afterApp := pids(units.App, n)
			for u, pid := range beforeApp {
				assert.NotEqual(t, pid, afterApp[u], "%s rolled", u)
			}
			assert.Equal(t, beforeWeb, pids(web, webN), "web untouched by app's rollout")

			writeWeb(webConfig("w2", worker.NodeJSPath))
			beforeApp = afterApp
			c.run(t, "systemctl", "reload", web.Target())
			afterWeb := pids(web, webN)
			for u, pid := range beforeWeb {
				assert.NotEqual(t, pid, afterWeb[u], "%s rolled", u)
			}
			assert.Equal(t, beforeApp, pids(units.App, n), "app untouched by web's rollout")
		})
		assert.Equal(t, []string{"w2"}, keys(versionsAt(t, webAddr, nil)))
	})

	step(t, "one app cannot read another's configuration or secrets", func(t *testing.T) {
		// Each app's dynamic user against the other app's configuration
		// (its [env] holds secrets) and environment file (web's has
		// APP_VERSION).
		type who struct {
			name       string
			unit       string
			otherFiles []string
		}
		for _, w := range []who{
			{"app", units.App.Instance(0), []string{web.ConfigPath(), filepath.Join(units.GeneratorDir, web.EnvFile())}},
			{"web", web.Instance(0), []string{units.DefaultConfigPath}}, // app.toml has no [env] here: no environment file
		} {
			st := c.procStatus(t, c.hostPID(t, w.unit))
			uid, gid := strings.Fields(st["Uid"])[0], strings.Fields(st["Gid"])[0]
			for _, f := range w.otherFiles {
				c.run(t, "test", "-s", f) // there, and not empty: root reads it
				out, err := c.Run(ctx, "setpriv", "--reuid", uid, "--regid", gid, "--clear-groups", "cat", f)
				if assert.Error(t, err, "%s's user (uid %s) reads %s:\n%s", w.name, uid, f, out) {
					assert.Contains(t, out, "Permission denied", f)
				}
			}
		}
	})

	step(t, "the deploy role rolls any app, and does nothing else", func(t *testing.T) {
		c.run(t, "useradd", "--create-home", "--groups", reloader.DeployGroup, "deployer")
		as := func(args ...string) (string, error) {
			return c.Run(ctx, append([]string{"runuser", "-u", "deployer", "--"}, args...)...)
		}
		beforeApp, beforeWeb := pids(units.App, n), pids(web, webN)
		out, err := as("app-reloader", "reload", "web")
		t.Logf("app-reloader reload web as deployer:\n%s", tail(out, 4))
		require.NoError(t, err, out)
		afterWeb := pids(web, webN)
		for u, pid := range beforeWeb {
			assert.NotEqual(t, pid, afterWeb[u], "%s rolled", u)
		}
		assert.Equal(t, beforeApp, pids(units.App, n), "app untouched")
		for _, args := range [][]string{
			{"systemctl", "restart", web.Instance(0)},
			{"systemctl", "stop", web.Socket()},
			{"systemctl", "stop", web.Target()},
			{"systemctl", "restart", web.ReloadUnit()},
		} {
			out, err := as(args...)
			if assert.Error(t, err, "deployer may not: %s", strings.Join(args, " ")) {
				assert.Regexp(t, `Interactive authentication required|Access denied`, out, strings.Join(args, " "))
			}
		}
		assert.Equal(t, afterWeb, pids(web, webN), "the refusals touched no instance")
	})

	step(t, "Prometheus' node exporter scrapes both apps", func(t *testing.T) {
		// Debian's own, with its defaults: its textfile collector reads
		// /var/lib/prometheus/node-exporter.
		c.run(t, "systemctl", "start", "prometheus-node-exporter.service")
		t.Cleanup(func() { _, _ = c.Run(ctx, "systemctl", "stop", "prometheus-node-exporter.service") })
		assert.Equal(t, "active", strings.TrimSpace(c.run(t, "systemctl", "is-active", "app-metrics.timer")), "the package started the timer")
		scrape := func() string {
			var out string
			require.Eventually(t, func() bool {
				o, err := c.Run(ctx, "curl", "-fsS", "http://127.0.0.1:9100/metrics")
				out = o
				return err == nil
			}, 20*time.Second, 200*time.Millisecond, "the node exporter answers")
			return out
		}
		// A rollout writes the file as it ends.
		c.run(t, "app-reloader", "reload", "web")
		out := scrape()
		for _, want := range []string{
			`app_instance_up{app="app",instance="0"} 1`,
			fmt.Sprintf(`app_instance_up{app="web",instance="%d"} 1`, webN-1),
			`app_instances_configured{app="web"} 2`,
			`app_last_rollout_success{app="web"} 1`,
			`app_instance_crash_loop{app="web",instance="0"} 0`,
			"node_textfile_scrape_error 0",
		} {
			assert.Contains(t, out, want+"\n")
		}
		assert.Regexp(t, `app_rollouts_total\{app="web",result="ok"\} [1-9]`, out)
		assert.Regexp(t, `app_instance_requests_total\{app="app",instance="0"\} [0-9]+`, out, "the reference worker's request count")
		assert.NotContains(t, out, `node_textfile_mtime_seconds{file="app.prom"} 0`)

		// The timer keeps it fresh without a rollout.
		c.run(t, "rm", "/var/lib/prometheus/node-exporter/app.prom")
		require.Eventually(t, func() bool {
			_, err := c.Run(ctx, "test", "-s", "/var/lib/prometheus/node-exporter/app.prom")
			return err == nil
		}, 30*time.Second, time.Second, "app-metrics.timer writes it again")
		assert.Contains(t, scrape(), `app_instance_up{app="app",instance="0"} 1`+"\n")
	})

	step(t, "a broken release of one app leaves both serving", func(t *testing.T) {
		loads(t, "web's broken release", func() {
			beforeApp, beforeWeb := pids(units.App, n), pids(web, webN)
			writeWeb(webConfig("w3", "/srv/no-such-release.js"))
			out, err := c.Run(ctx, "app-reloader", "reload", "web")
			t.Logf("app-reloader reload web (broken):\n%s", tail(out, 8))
			require.Error(t, err)
			assert.Contains(t, out, "caught on the spare")
			assert.Equal(t, beforeWeb, pids(web, webN), "web's instances untouched")
			assert.Equal(t, beforeApp, pids(units.App, n), "app untouched")
			writeWeb(webConfig("w2", worker.NodeJSPath))
		})
	})

	step(t, "scale one app", func(t *testing.T) {
		loads(t, "app-reloader scale web 3", func() {
			beforeApp, beforeWeb := pids(units.App, n), pids(web, webN)
			out := c.run(t, "app-reloader", "scale", "web", "3")
			t.Logf("app-reloader scale web 3:\n%s", tail(out, 4))
			webN = 3
			require.NoError(t, c.WaitActive(ctx, 30*time.Second, web.Instance(2)))
			after := pids(web, 2)
			for u, pid := range beforeWeb {
				assert.Equal(t, pid, after[u], "%s kept running", u)
			}
			assert.Equal(t, beforeApp, pids(units.App, n), "app untouched")
			assert.Contains(t, c.run(t, "cat", web.ConfigPath()), "instances = 3")
		})
	})

	step(t, "systemctl reload-or-restart app.target rolls every app", func(t *testing.T) {
		loads(t, "systemctl reload-or-restart app.target", func() {
			beforeApp, beforeWeb := pids(units.App, n), pids(web, webN)
			out := c.run(t, "systemctl", "reload-or-restart", units.Target)
			t.Logf("systemctl reload-or-restart app.target:\n%s", tail(out, 3))
			afterApp, afterWeb := pids(units.App, n), pids(web, webN)
			for u, pid := range beforeApp {
				assert.NotEqual(t, pid, afterApp[u], "%s rolled", u)
			}
			for u, pid := range beforeWeb {
				assert.NotEqual(t, pid, afterWeb[u], "%s rolled", u)
			}
		})
	})

	step(t, "an upgrade (a Debian revision) rolls every app", func(t *testing.T) {
		loads(t, "dpkg -i of 1.0.0-2 over 1.0.0-1", func() {
			beforeApp, beforeWeb := pids(units.App, n), pids(web, webN)
			out := c.run(t, "dpkg", "-i", c.put(t, v2))
			t.Logf("dpkg -i 1.0.0-2:\n%s", tail(out, 12))
			assert.Contains(t, out, "Unpacking app (1.0.0-2) over (1.0.0-1)")
			assert.Equal(t, "1.0.0-2", strings.TrimSpace(c.run(t, "dpkg-query", "-W", "-f", "${Version}", "app")))
			assert.Contains(t, out, "app: rolling the cluster over to the new release")
			assert.Contains(t, out, "app: rolling web over to the new release")
			afterApp, afterWeb := pids(units.App, n), pids(web, webN)
			for u, pid := range beforeApp {
				assert.NotEqual(t, pid, afterApp[u], "%s rolled", u)
			}
			for u, pid := range beforeWeb {
				assert.NotEqual(t, pid, afterWeb[u], "%s rolled", u)
			}
		})
		assert.Equal(t, []string{"1.0.0-2"}, keys(versionsAt(t, c.addr, nil)))
		assert.Equal(t, []string{"w2"}, keys(versionsAt(t, webAddr, nil)))
	})

	step(t, "after a reboot both apps serve", func(t *testing.T) {
		c.Stop()
		require.NoError(t, c.Start(ctx))
		require.NoError(t, c.WaitActive(ctx, 60*time.Second, append(c.instances(n), web.Instance(0), web.Instance(1), web.Instance(2))...), "nobody ran a command after the reboot")
		assert.Equal(t, []string{"1.0.0-2"}, keys(versionsAt(t, c.addr, nil)))
		assert.Equal(t, []string{"w2"}, keys(versionsAt(t, webAddr, nil)))
	})

	step(t, "removing the package leaves nothing listening", func(t *testing.T) {
		out := c.run(t, "apt-get", "remove", "-y", "app")
		t.Logf("apt-get remove:\n%s", tail(out, 3))
		for _, addr := range []string{c.addr, webAddr} {
			out, _ := c.Run(ctx, "sh", "-c", "ss -Hltn 'sport = :"+addr[strings.LastIndex(addr, ":")+1:]+"'")
			assert.Empty(t, strings.TrimSpace(out), "nothing listens on %s", addr)
		}
		c.run(t, "apt-get", "purge", "-y", "app")
		_, err := os.Stat(filepath.Join(c.Root, units.AppsDir))
		assert.ErrorIs(t, err, os.ErrNotExist, "purge removes the other apps' configurations")
	})
}
