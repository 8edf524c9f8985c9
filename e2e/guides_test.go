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
)

// guides are the runtime guides (docs/guides/NAME.md) and, for each, what
// makes a release of it that cannot start: keep is what the release is
// made of (put back afterwards), breakIt breaks it.
var guides = []struct {
	name    string
	keep    []string
	breakIt string
}{
	{"node", []string{"/srv/hello"}, `echo 'throw new Error("release 4 cannot start")' >> /srv/hello/server.js`},
	{"express", []string{"/srv/shop"}, `echo 'throw new Error("release 4 cannot start")' >> /srv/shop/server.js`},
	{"gunicorn", []string{"/srv/pyhello"}, `echo 'raise RuntimeError("release 4 cannot start")' >> /srv/pyhello/hello.py`},
	{"uvicorn", []string{"/srv/api"}, `echo 'raise RuntimeError("release 4 cannot start")' >> /srv/api/main.py`},
	{"puma", []string{"/srv/rbhello"}, `echo 'raise "release 4 cannot start"' >> /srv/rbhello/config.ru`},
	{"go", []string{"/srv/hello", "/usr/local/bin/hello"}, `cd /srv/hello && sed -i 's|^\tinstance, version := |\tlog.Fatal("release 4 cannot start")\n&|' main.go && PATH="$PATH:/usr/local/go/bin" CGO_ENABLED=0 go build -o /usr/local/bin/hello.new . && mv /usr/local/bin/hello.new /usr/local/bin/hello`},
}

func TestParseGuide(t *testing.T) {
	steps, err := ParseGuide([]byte("# x\n```sh\napt-get install -y x\n```\ntext\n```toml file=/etc/app/app.toml\na = 1\n```\n```\nshown\n```\n```sh rollout\nsystemctl reload app.target\n```\n"))
	require.NoError(t, err)
	assert.Equal(t, []GuideStep{
		{Kind: StepShell, Body: "apt-get install -y x\n", Line: 2},
		{Kind: StepFile, Path: "/etc/app/app.toml", Body: "a = 1\n", Line: 6},
		{Kind: StepRollout, Body: "systemctl reload app.target\n", Line: 12},
	}, steps)
	_, err = ParseGuide([]byte("```sh\nnever ends\n"))
	assert.ErrorContains(t, err, "does not end")
	_, err = ParseGuide([]byte("```sh later\nx\n```\n"))
	assert.ErrorContains(t, err, `unknown attribute "later"`)
}

// TestGuides: each runtime guide, followed to the letter on a fresh
// machine with the package installed, serves; then its server is rolled
// twice under load with the guide's own command (0 failed, every PID
// replaced), a release of it that cannot start is caught on the spare
// (0 failed, nothing touched), and it serves again after a reboot.
func TestGuides(t *testing.T) {
	requireDefaultAddrFree(t)
	deb := buildDeb(t, "1.0.0", "")
	for _, g := range guides {
		t.Run(g.name, func(t *testing.T) {
			md, err := os.ReadFile(filepath.Join("..", "docs", "guides", g.name+".md"))
			require.NoError(t, err)
			steps, err := ParseGuide(md)
			require.NoError(t, err)
			var rollout []string
			for _, s := range steps {
				if s.Kind == StepRollout {
					rollout = append(rollout, s.Body)
				}
			}
			require.NotEmpty(t, rollout, "the guide says how to roll out")
			started := time.Now()

			c := bootPackaged(t)
			c.run(t, "apt-get", "install", "-y", "-q", c.put(t, deb))
			sh := func(t *testing.T, script string) (string, error) {
				return c.Run(c.ctx, "env", "HOME=/root", "DEBIAN_FRONTEND=noninteractive", "sh", "-euc", script)
			}
			for _, s := range steps {
				switch s.Kind {
				case StepFile:
					p := filepath.Join(c.Root, s.Path)
					require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
					mode := os.FileMode(0o644)
					if s.Path == units.DefaultConfigPath {
						mode = 0o640
					}
					require.NoError(t, os.WriteFile(p, []byte(s.Body), mode))
				default:
					out, err := sh(t, s.Body)
					require.NoError(t, err, "%s.md line %d:\n%s\n%s", g.name, s.Line, s.Body, tail(out, 30))
				}
			}
			t.Logf("%s: the guide's steps took %s", g.name, time.Since(started).Round(100*time.Millisecond))
			assert.Equal(t, []string{"1"}, keys(versionsAt(t, c.addr, nil)), "the guide's server answers")
			t.Logf("%s: systemd-analyze security app@0.service: exposure %.1f", g.name, c.exposure(t, "app@0.service"))

			setVersion := func(v string) {
				c.run(t, "sed", "-i", fmt.Sprintf(`s/^APP_VERSION = .*/APP_VERSION = "%s"/`, v), units.DefaultConfigPath)
			}
			roll := func(t *testing.T) (string, error) {
				var all strings.Builder
				for _, r := range rollout {
					out, err := sh(t, r)
					all.WriteString(out)
					if err != nil {
						return all.String(), err
					}
				}
				return all.String(), nil
			}

			const n = 2
			l := c.load(t)
			time.Sleep(time.Second)
			for _, v := range []string{"2", "3"} {
				setVersion(v)
				before, since := c.pids(t, n), time.Now()
				out, err := roll(t)
				require.NoError(t, err, out)
				c.checkRollout(t, g.name+" release "+v, n, before, since, v, true)
			}

			// A release that cannot start: caught on the spare, nothing
			// else touched, the load still served by release 3.
			for _, p := range g.keep {
				c.run(t, "cp", "-a", p, p+".good")
			}
			out, err := sh(t, g.breakIt)
			require.NoError(t, err, out)
			setVersion("4")
			before := c.pids(t, n)
			// systemctl reload-or-restart app.target exits 0 whatever the
			// rollout did (systemd does not hand a propagated reload's
			// result back; the README says so): status tells.
			out, err = roll(t)
			t.Logf("%s: the guide's rollout command on a broken release: err %v\n%s", g.name, err, tail(out, 5))
			st := c.run(t, "app-reloader", "status", "--json")
			var status reloader.Status
			require.NoError(t, json.Unmarshal([]byte(st), &status), st)
			require.NotNil(t, status.LastRollout)
			require.NotNil(t, status.LastRollout.Failure, st)
			assert.True(t, status.LastRollout.Failure.Spare, "caught on the spare: %s", st)
			assert.Equal(t, reloader.RolloutFailed, status.RolloutState)
			t.Logf("%s: broken release: %s; journal: %s", g.name, status.LastRollout.Failure.Reason, strings.Join(status.LastRollout.Failure.Journal, " | "))
			assert.Equal(t, before, c.pids(t, n), "no running instance touched")
			time.Sleep(500 * time.Millisecond)
			res := l.Stop()
			t.Logf("%s: two rollouts and a broken release under load: %s; by version %v", g.name, res.Summary(), res.By(func(s Sample) string { return s.Version }))
			assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
			assert.NotContains(t, res.By(func(s Sample) string { return s.Version }), "4")
			c.assertNoStopTimeouts(t)

			for _, p := range g.keep {
				c.run(t, "sh", "-c", fmt.Sprintf("rm -rf %s && mv %s.good %s", p, p, p))
			}
			setVersion("3")

			// After a reboot it serves with nobody doing anything.
			c.Stop()
			require.NoError(t, c.Start(c.ctx))
			require.NoError(t, c.WaitActive(c.ctx, 60*time.Second, append([]string{units.Socket, units.Target}, c.instances(n)...)...))
			assert.Equal(t, []string{"3"}, keys(versionsAt(t, c.addr, nil)), "release 3 serves after a reboot")
			t.Logf("%s: the whole guide test took %s", g.name, time.Since(started).Round(100*time.Millisecond))
		})
	}
}
