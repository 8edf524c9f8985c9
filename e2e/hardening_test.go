//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

// secrets are [env] values that must reach the worker exactly as written
// ($ and % mean nothing in an environment value), and nobody else.
var secrets = map[string]string{
	"DB_PASSWORD": "pa$word",
	"QUOTES":      `a'b"c\d`,
	"SPECIFIERS":  "100%n %i ${HOME} $(id) `id`",
	"SPACED":      "  two  spaces  ",
	"HASH":        "#not a comment; x=y",
	"UNICODE":     "héllo ✓",
}

// tomlQuote writes s as a TOML basic string (printable text only).
func tomlQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func secretsTOML() string {
	keys := make([]string, 0, len(secrets))
	for k := range secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("[env]\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, tomlQuote(secrets[k]))
	}
	return b.String()
}

// asNobody runs a command in the container as the unprivileged user nobody.
func (c *cluster) asNobody(args ...string) (string, error) {
	return c.Run(c.ctx, append([]string{"runuser", "-u", "nobody", "--"}, args...)...)
}

// environOf is a process's environment, read from the host.
func environOf(t *testing.T, hostPID int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", hostPID))
	require.NoError(t, err)
	out := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Issue 18, on a real systemd: no config value reaches the unit files as
// settings of its own, secrets reach the worker unchanged and nobody
// else, no local user can hold rollouts up, an instance sees nothing of
// /run/app but its own probe socket, and what a worker prints reaches the
// operator's terminal escaped. One machine, under load throughout.
func TestHardening(t *testing.T) {
	const n = 2
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
	l := c.load(t)
	defer func() {
		res := l.Stop()
		t.Logf("load through the whole test: %s", res.Summary())
		assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(5))
	}()

	// Strings a config may hold that mean something to systemd: %, $,
	// quotes, backslashes, spaces. Accepted, and they arrive as written.
	require.NoError(t, os.MkdirAll(filepath.Join(c.Root, "srv/a b/100%"), 0o755))
	good := c.config("instances = 2\ncwd = \"/srv/a b/100%\"\nprobe_path = \"/healthz\"\n" + secretsTOML())
	require.NoError(t, c.WriteConfig(good))
	require.NoError(t, os.Chmod(filepath.Join(c.Root, units.DefaultConfigPath), 0o640))

	step(t, "values with %, $, quotes and spaces arrive as written", func(t *testing.T) {
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		require.True(t, rep.OK)
		verify, err := c.Run(c.ctx, "systemd-analyze", "verify", "--man=no", units.Socket, units.Reload, "app@0.service")
		assert.NoError(t, err, verify)
		assert.Empty(t, strings.TrimSpace(verify), "systemd-analyze verify of what the generator wrote")
		assert.Equal(t, "/srv/a b/100%", strings.TrimSpace(c.run(t, "systemctl", "show", "-P", "WorkingDirectory", "app@0.service")))
		env := environOf(t, c.hostPID(t, "app@0.service"))
		for k, v := range secrets {
			assert.Equal(t, v, env[k], "%s in the worker's own environment", k)
		}
		show := c.run(t, "systemctl", "show", "-p", "Environment", "-p", "EnvironmentFiles", "app@0.service")
		t.Logf("systemctl show app@0.service:\n%s", show)
		assert.Contains(t, show, "EnvironmentFiles="+units.GeneratorDir+"/"+units.EnvFile)
		for k, v := range secrets {
			assert.NotContains(t, show, k, "no secret in the unit's properties")
			assert.NotContains(t, show, v)
		}
	})

	step(t, "secrets are for root only", func(t *testing.T) {
		for _, f := range []string{units.DefaultConfigPath, units.GeneratorDir + "/" + units.EnvFile, "/var/lib/app/last-rollout.json"} {
			out, err := c.asNobody("cat", f)
			assert.Error(t, err, "nobody reads %s: %s", f, out)
			assert.Contains(t, out, "Permission denied", f)
		}
		out, err := c.asNobody("systemctl", "show", "app@0.service")
		require.NoError(t, err, out)
		for _, v := range secrets {
			assert.NotContains(t, out, v, "over D-Bus")
		}
		out, err = c.asNobody("app-reloader", "describe", "0")
		require.NoError(t, err, out)
		assert.Contains(t, out, units.EnvFile+": readable by root only")
		for _, v := range secrets {
			assert.NotContains(t, out, v, "describe as nobody")
		}
		out, err = c.asNobody("app-reloader", "status")
		require.NoError(t, err, "status needs neither app.toml nor the report: %s", out)
		assert.Contains(t, out, "configured instances: 2")
		assert.Contains(t, out, "last rollout: (its report is for root and the app-deploy group only)")
		assert.Regexp(t, `app@1.service\s+active`, out)

		out = c.run(t, "app-reloader", "describe", "0")
		assert.Contains(t, out, "DB_PASSWORD=••••••", "root sees the names, masked")
		for _, v := range secrets {
			assert.NotContains(t, out, v, "masked unless asked")
		}
		out = c.run(t, "app-reloader", "describe", "-show-env", "0")
		assert.Contains(t, out, "DB_PASSWORD=pa$word")
	})

	step(t, "no local user can hold rollouts up", func(t *testing.T) {
		assert.Equal(t, "700 root", strings.TrimSpace(c.run(t, "stat", "-c", "%a %U", units.PrivateDir)))
		for _, lock := range []string{units.PrivateDir + "/reload.lock", units.RuntimeDir + "/reload.lock"} {
			out, err := c.asNobody("flock", "-n", "-x", lock, "true")
			assert.Error(t, err, "nobody takes %s: %s", lock, out)
			assert.Contains(t, out, "ermission denied", lock)
		}
		out, err := c.asNobody("ls", units.PrivateDir)
		assert.Error(t, err, "nobody lists the guard's records: %s", out)
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		assert.True(t, rep.OK)
		assert.Equal(t, "640", strings.TrimSpace(c.run(t, "stat", "-c", "%a", "/var/lib/app/last-rollout.json")))
		// Through systemd too: app-reload.service's sandbox reaches the
		// probe sockets (in /run/private, the instances' dynamic user's).
		c.run(t, "systemctl", "reload", units.Reload)
		assert.Contains(t, c.run(t, "app-reloader", "status"), "last rollout: ok")
	})

	step(t, "an instance sees only its own probe socket of /run/app", func(t *testing.T) {
		for i, u := range c.instances(n) {
			// As the instance sees it: its mount namespace and its user.
			pid := c.hostPID(t, u)
			uid := strings.Fields(c.procStatus(t, pid)["Uid"])[0]
			ls := func(dir string) (string, error) {
				out, err := exec.Command("nsenter", "-t", fmt.Sprint(pid), "-m", "-S", uid, "ls", "-A", dir).CombinedOutput()
				return strings.Join(strings.Fields(string(out)), " "), err
			}
			out, err := ls(units.ProbeDir + "/" + fmt.Sprint(i))
			assert.NoError(t, err, out)
			assert.Equal(t, units.ProbeSocketName, out, u)
			out, err = ls(units.ProbeDir + "/" + fmt.Sprint(1-i) + "/")
			assert.Error(t, err, "%s sees another instance's probe directory: %s", u, out)
			out, err = ls(units.PrivateDir)
			assert.Error(t, err, "%s sees the lock and the guard's records: %s", u, out)
		}
		// The guard ("+", root, in the instance's namespace) keeps its
		// records: no error of its in the journal.
		assert.NotContains(t, c.run(t, "journalctl", "--no-pager", "-o", "cat", "-u", "app@*.service"), "crash-loop record")
		// The rollout above probed every instance there.
		assert.Contains(t, c.run(t, "curl", "-sS", "--unix-socket", units.ProbeSocket("1"), "http://app/healthz"), "ok")
	})

	step(t, "values that would write settings of their own are refused", func(t *testing.T) {
		before := c.pids(t, n)
		c.run(t, "mkdir", "-p", "/tmp/gen")
		for _, bad := range []struct{ toml, want string }{
			{"cwd = \"/srv\\nDynamicUser=no\\nUser=root\\nExecStartPre=+/bin/touch /pwned\"\n", ":2: cwd: U+000A at byte 4: control characters are refused"},
			{"[env]\nFOO = \"bar\\rDynamicUser=no\\rUser=root\"\n", ":3: env.FOO: U+000D at byte 3: control characters are refused"},
			{"args = [\"x\\u0000User=root\"]\n", ":2: args: U+0000 at byte 1"},
			{"listen = [\"/run/a.sock\\nExecStartPre=/bin/touch /pwned\"]\n", ":1: listen: U+000A at byte 11"},
		} {
			config := c.config(bad.toml)
			if strings.HasPrefix(bad.toml, "listen") {
				config = bad.toml
			}
			require.NoError(t, c.WriteConfig(config))
			out, err := c.Run(c.ctx, "app-reloader", "check")
			assert.Error(t, err, bad.toml)
			assert.Contains(t, out, units.DefaultConfigPath+bad.want)
			out, err = c.Run(c.ctx, "app-reloader", "reload")
			assert.Error(t, err, bad.toml)
			assert.Contains(t, out, "nothing was changed")
			// What systemd does with it at boot or on anyone's
			// daemon-reload: the generator refuses it, says why, and keeps
			// the configuration the last rollout applied.
			out, err = c.Run(c.ctx, "/lib/systemd/system-generators/app-generator", "/tmp/gen")
			require.NoError(t, err, out)
			assert.Contains(t, out, "control characters are refused")
			assert.Contains(t, out, "keeping the last configuration applied ("+units.AppliedPath+")")
			gen := c.run(t, "cat", "/tmp/gen/"+units.Socket+".d/"+units.DropIn, "/tmp/gen/"+units.Template+".d/"+units.DropIn)
			assert.Contains(t, gen, "ListenStream="+c.addr+"\n")
			assert.Contains(t, gen, "WorkingDirectory=/srv/a b/100%%\n")
			assert.NotContains(t, gen, "pwned")
			c.run(t, "rm", "-rf", "/tmp/gen")
			c.run(t, "mkdir", "/tmp/gen")
		}
		// A daemon-reload by anyone meanwhile: the socket stays on its
		// address (the load below it fails nothing), the sandbox as it was.
		c.run(t, "systemctl", "daemon-reload")
		assert.Equal(t, "yes\napp-worker\n", c.run(t, "systemctl", "show", "-P", "DynamicUser", "app@0.service")+c.run(t, "systemctl", "show", "-P", "User", "app@0.service"))
		assert.NotContains(t, c.run(t, "systemctl", "show", "-p", "ExecStartPre", "app@0.service"), "pwned")
		assert.Contains(t, c.run(t, "systemctl", "show", "-p", "Listen", units.Socket), c.addr)
		assert.Equal(t, n, len(strings.Fields(c.run(t, "systemctl", "show", "-P", "Wants", units.Target)))-2, "app.target still wants every instance (and the socket and reload unit)")
		assert.Equal(t, before, c.pids(t, n), "nothing was touched")
		_, err := os.Stat(filepath.Join(c.Root, "pwned"))
		assert.True(t, os.IsNotExist(err))
		require.NoError(t, c.WriteConfig(good))
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		assert.True(t, rep.OK)
	})

	step(t, "what a worker prints reaches the terminal escaped", func(t *testing.T) {
		// A worker that logs and reports a terminal title command (ESC ]
		// … BEL) and a colour; one instance, no probe socket of its own.
		const sh = `printf 'log \033]0;pwned\007\033[31m red\n'; systemd-notify --ready --status="$(printf 'st \033]0;pwned\007')"; exec sleep 600`
		require.NoError(t, c.WriteConfig(c.config("instances = 1\nsurge = false\nscript = \"/bin/sh\"\nargs = [\"-c\", "+tomlQuote(sh)+"]\n")))
		l.Stop() // the sh worker serves nothing
		rep, out, err := c.reload(t)
		require.NoError(t, err, out)
		assert.True(t, rep.OK)
		time.Sleep(500 * time.Millisecond)
		for _, args := range [][]string{{"status"}, {"logs", "-n", "50"}, {"describe", "0"}, {"top"}} {
			out := c.run(t, append([]string{"app-reloader"}, args...)...)
			assert.NotContains(t, out, "\x1b", "app-reloader %v", args)
			assert.NotContains(t, out, "\x07", "app-reloader %v", args)
			assert.Contains(t, out, `\x1b]0;pwned\x07`, "app-reloader %v shows it, escaped", args)
		}
		out = c.run(t, "app-reloader", "status", "--json")
		assert.Contains(t, out, `st \u001b]0;pwned\u0007`, "--json keeps it whole")
	})
}
