//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/reloader"
	"example.com/app/units"
)

// defaultAddr is where a fresh install listens (packaging/app.toml).
const defaultAddr = "127.0.0.1:8080"

// buildDeb runs `make deb` and returns the package's path. worker, if set,
// is packaged as /usr/bin/app.
func buildDeb(t *testing.T, version, worker string) string {
	t.Helper()
	args := []string{"-C", "..", "deb", "VERSION=" + version}
	if worker != "" {
		args = append(args, "WORKER="+worker)
	}
	out, err := exec.Command("make", args...).CombinedOutput()
	require.NoError(t, err, "make deb:\n%s", out)
	p, err := filepath.Abs(fmt.Sprintf("../dist/app_%s_amd64.deb", version))
	require.NoError(t, err)
	return p
}

// requireDefaultAddrFree stops a test that installs the package as it is
// (listening on defaultAddr) when something here already listens there.
func requireDefaultAddrFree(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", defaultAddr)
	if err != nil {
		t.Fatalf("the package's default address %s is taken on this machine: %v", defaultAddr, err)
	}
	l.Close()
}

// bootPackaged boots a machine for the package with its default
// configuration, listening on defaultAddr.
func bootPackaged(t *testing.T) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	m, err := Boot(ctx)
	require.NoError(t, err)
	track(t, m)
	return &cluster{Machine: m, addr: defaultAddr, ctx: ctx}
}

// brokenWorker is a release that cannot start, as /usr/bin/app: a file
// named app in a directory of its own (for make deb WORKER= and for
// InstallWorker).
func brokenWorker(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "app")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho 'broken release: cannot start' >&2\nexit 3\n"), 0o755))
	return p
}

// put copies a package into the container and returns its path there.
func (c *cluster) put(t *testing.T, deb string) string {
	t.Helper()
	dst := "/root/" + filepath.Base(deb)
	require.NoError(t, copyFile(deb, filepath.Join(c.Root, dst), 0o644))
	return dst
}

func TestPackageLifecycle(t *testing.T) {
	requireDefaultAddrFree(t)
	v1, v2, v3 := buildDeb(t, "1.0.0", ""), buildDeb(t, "2.0.0", ""), buildDeb(t, "3.0.0", brokenWorker(t))

	c := bootPackaged(t)
	ctx, m := c.ctx, c.Machine
	var n int // what the package's default config (instances = "auto") gives here

	versions := func() map[string]int { return versionsAt(t, c.addr, nil) }

	step(t, "apt install v1 starts the cluster", func(t *testing.T) {
		deb := c.put(t, v1)
		out := c.run(t, "sh", "-c", "cd /root && apt-get install -y ./"+filepath.Base(deb))
		t.Logf("apt-get install:\n%s", tail(out, 5))
		var err error
		n, err = c.ConfiguredInstances(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, n, 2, `instances = "auto" is at least 2`)
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, append([]string{units.Socket, units.Target}, c.instances(n)...)...))
		assert.Equal(t, map[string]bool{"enabled": true}, set(c.run(t, "systemctl", "is-enabled", units.Socket, units.Target)))
		assert.Equal(t, []string{"1.0.0"}, keys(versions()))
		assert.Equal(t, "640 root root", strings.TrimSpace(c.run(t, "stat", "-c", "%a %U %G", units.DefaultConfigPath)), "app.toml holds secrets: root only")
	})

	step(t, "man pages, versions and completion", func(t *testing.T) {
		for page, want := range map[string]string{
			"app-reloader":    "roll, scale and watch the app cluster",
			"app":             "the app cluster's reference HTTP worker",
			"5 app.toml":      "configuration of an app cluster",
			"8 app-generator": "turn app.toml into the app cluster's systemd units",
		} {
			out := c.run(t, "sh", "-c", "MANWIDTH=80 man -P cat "+page)
			assert.Contains(t, strings.Join(strings.Fields(out), " "), want, "man %s", page)
		}
		for _, cmd := range []string{"app-reloader --version", "/lib/systemd/system-generators/app-generator --version", "app --version"} {
			assert.Contains(t, c.run(t, "sh", "-c", cmd), "1.0.0", cmd)
		}
		// The completion, as bash-completion loads it (on demand, by the
		// command's name), offers the instances this systemd runs.
		out := c.run(t, "bash", "-c", `source /usr/share/bash-completion/bash_completion; _completion_loader app-reloader
COMP_WORDS=(app-reloader describe ""); COMP_CWORD=2; COMP_LINE="app-reloader describe "; COMP_POINT=${#COMP_LINE}
__start_app-reloader 2>/dev/null; echo "${COMPREPLY[*]}"`)
		var nums []string
		for i := range n {
			nums = append(nums, strconv.Itoa(i))
		}
		assert.ElementsMatch(t, nums, strings.Fields(out))
		for _, f := range []string{"/usr/share/zsh/vendor-completions/_app-reloader", "/usr/share/fish/vendor_completions.d/app-reloader.fish"} {
			c.run(t, "test", "-s", f)
		}
		out = c.run(t, "fish", "-c", `complete -C "app-reloader describe "`)
		assert.ElementsMatch(t, nums, firstFields(out), "fish finds its completion where the package put it")
	})

	step(t, "app-deploy members roll the cluster without root, and do nothing else", func(t *testing.T) {
		c.run(t, "useradd", "--create-home", "--groups", reloader.DeployGroup, "deployer")
		c.run(t, "useradd", "--create-home", "outsider")
		as := func(user string, args ...string) (string, error) {
			return c.Run(ctx, append([]string{"runuser", "-u", user, "--"}, args...)...)
		}
		before, since := c.pids(t, n), time.Now()
		out, err := as("deployer", "app-reloader", "reload")
		t.Logf("app-reloader reload as deployer (in %s):\n%s", reloader.DeployGroup, out)
		require.NoError(t, err, out)
		assert.Contains(t, out, "rollout done")
		c.checkRollout(t, "reload by a member of "+reloader.DeployGroup, n, before, since, "1.0.0", true)
		out, err = as("deployer", "app-reloader", "status")
		require.NoError(t, err, out)
		assert.Contains(t, out, "app@0.service")
		assert.Contains(t, out, "last rollout: ok", "members read the report")
		assert.Equal(t, "640 root "+reloader.DeployGroup, strings.TrimSpace(c.run(t, "stat", "-c", "%a %U %G", reloader.DefaultReportPath)))
		out, err = as("outsider", "app-reloader", "status")
		require.NoError(t, err, out)
		assert.Contains(t, out, "last rollout: (its report is for root and the "+reloader.DeployGroup+" group only)")

		before = c.pids(t, n)
		refused := regexp.MustCompile(`Interactive authentication required|Access denied`)
		for _, args := range [][]string{
			{"systemctl", "restart", "app@0.service"},
			{"systemctl", "stop", "app.socket"},
			{"systemctl", "stop", "app.target"},
			{"systemctl", "restart", units.Reload},
			{"systemctl", "reload", "app.target"},
			{"systemctl", "restart", "systemd-journald.service"},
			{"systemctl", "reload", "dbus.service"},
			{"systemctl", "daemon-reload"},
		} {
			out, err := as("deployer", args...)
			if assert.Error(t, err, "deployer may not: %s", strings.Join(args, " ")) {
				assert.Regexp(t, refused, out, strings.Join(args, " "))
			}
		}
		out, err = as("outsider", "app-reloader", "reload")
		t.Logf("app-reloader reload as outsider:\n%s", out)
		if assert.Error(t, err, "a user outside %s may not roll the cluster", reloader.DeployGroup) {
			assert.Contains(t, out, "not allowed to reload "+units.Reload)
			assert.Contains(t, out, "member of the "+reloader.DeployGroup+" group")
			assert.Contains(t, out, "nothing was changed")
		}
		assert.Equal(t, before, c.pids(t, n), "the refusals touched no instance")
		require.NoError(t, c.WaitActive(ctx, 10*time.Second, append([]string{units.Socket, units.Target}, c.instances(n)...)...))
	})

	step(t, "upgrade to v2 under load fails no request", func(t *testing.T) {
		// As an older package left it: readable by everyone.
		c.run(t, "chmod", "0644", units.DefaultConfigPath)
		before, since := c.pids(t, n), time.Now()
		l := c.load(t)
		time.Sleep(time.Second)
		// Someone else's rollout holds the lock for 10 s (longer than dpkg
		// takes to reach the postinst): the upgrade waits for it, then
		// rolls.
		holder := make(chan error, 1)
		go func() {
			_, err := c.Run(ctx, "flock", reloader.DefaultLockPath, "sleep", "10")
			holder <- err
		}()
		time.Sleep(300 * time.Millisecond)
		out := c.run(t, "dpkg", "-i", c.put(t, v2))
		require.NoError(t, <-holder)
		assert.Contains(t, out, "another rollout is running")
		assert.Contains(t, out, "waiting up to 10m0s for it to end")
		time.Sleep(time.Second)
		res := l.Stop()
		t.Logf("dpkg -i v2 under load: %s; by version %v", res.Summary(), res.By(func(s Sample) string { return s.Version }))
		assert.Contains(t, out, "app: rolling the cluster over to the new release")
		assert.Contains(t, out, "rollout done")
		assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
		c.checkRollout(t, "dpkg -i v2", n, before, since, "2.0.0", true)
		c.assertNoStopTimeouts(t)
		assert.Equal(t, "640", strings.TrimSpace(c.run(t, "stat", "-c", "%a", units.DefaultConfigPath)), "the upgrade narrows an app.toml others could read")
	})

	step(t, "broken v3 halts, v2 keeps serving", func(t *testing.T) {
		before := c.pids(t, n)
		l := c.load(t)
		time.Sleep(time.Second)
		out, err := c.Run(ctx, "dpkg", "-i", c.put(t, v3))
		time.Sleep(time.Second)
		res := l.Stop()
		t.Logf("dpkg -i broken v3 under load: %s", res.Summary())
		require.NoError(t, err, "the package still configures:\n%s", out)
		assert.Contains(t, out, "THE ROLLING RELOAD FAILED")
		assert.Contains(t, out, "rollout FAILED at app@spare.service", "caught on the spare")
		assert.Contains(t, out, "no instance was touched")
		assert.Contains(t, out, "broken release: cannot start", "the failure shows the instance's log")
		assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
		after := c.pids(t, n)
		for _, u := range c.instances(n) {
			assert.Equal(t, before[u], after[u], "%s keeps its v2 process", u)
		}
		assert.Equal(t, []string{"inactive"}, c.ActiveStates(ctx, units.Spare), "no spare left running")
		assert.Equal(t, []string{"2.0.0"}, keys(versions()), "only v2 answers")
		assert.Contains(t, c.run(t, "dpkg-query", "-W", "-f", "${Status} ${Version}", "app"), "install ok installed 3.0.0")
	})

	step(t, "reinstalling v2 recovers", func(t *testing.T) {
		out := c.run(t, "dpkg", "-i", c.put(t, v2))
		assert.Contains(t, out, "rollout done")
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, c.instances(n)...))
		assert.Equal(t, []string{"2.0.0"}, keys(versions()))
	})

	step(t, "reboot brings everything back", func(t *testing.T) {
		m.Stop()
		require.NoError(t, m.Start(ctx))
		require.NoError(t, c.WaitActive(ctx, 60*time.Second, append([]string{units.Socket, units.Target}, c.instances(n)...)...),
			"nobody ran a command after the reboot")
		assert.Equal(t, []string{"2.0.0"}, keys(versions()))
	})

	step(t, "an upgrade leaves a stopped cluster stopped", func(t *testing.T) {
		c.run(t, "systemctl", "stop", units.Target, units.Socket)
		out := c.run(t, "dpkg", "-i", c.put(t, v2))
		assert.Contains(t, out, "app: the cluster is stopped; the upgrade leaves it so")
		assert.NotContains(t, out, "rolling the cluster")
		assert.Equal(t, []string{"inactive", "inactive"}, c.ActiveStates(ctx, units.Target, units.Socket), "still stopped")
		_, err := net.DialTimeout("tcp", c.addr, 2*time.Second)
		assert.Error(t, err, "nothing listens")
		c.run(t, "systemctl", "start", units.Target)
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, append([]string{units.Socket}, c.instances(n)...)...))
	})

	step(t, "installing into another root (DPKG_ROOT) touches nothing here", func(t *testing.T) {
		before := c.pids(t, n)
		c.run(t, "sh", "-c", "mkdir -p /srv/root/var/lib/dpkg/info /srv/root/var/lib/dpkg/updates /srv/root/etc && touch /srv/root/var/lib/dpkg/status")
		out, err := c.Run(ctx, "dpkg", "--root=/srv/root", "--force-script-chrootless", "--force-depends", "--log=/dev/null", "-i", c.put(t, v2))
		t.Logf("dpkg --root:\n%s", tail(out, 8))
		require.NoError(t, err, out)
		assert.NotContains(t, out, "rolling the cluster")
		assert.FileExists(t, filepath.Join(m.Root, "srv/root/usr/bin/app"))
		assert.FileExists(t, filepath.Join(m.Root, "srv/root/etc/app/app.toml"))
		assert.Equal(t, before, c.pids(t, n), "this machine's cluster untouched")
		c.run(t, "rm", "-rf", "/srv/root")
	})

	step(t, `socket = "reuseport": remove leaves nothing listening, a reinstall serves again`, func(t *testing.T) {
		c.run(t, "sh", "-c", `sed -i '/^socket *=/d' /etc/app/app.toml && echo 'socket = "reuseport"' >> /etc/app/app.toml`)
		c.run(t, "sh", "-c", reloader.ApplyListenChange(units.App))
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, append([]string{"app@0.socket"}, c.instances(n)...)...))
		assert.Equal(t, []string{"2.0.0"}, keys(versions()))
		c.run(t, "dpkg", "-r", "app")
		_, err := net.DialTimeout("tcp", c.addr, 2*time.Second)
		assert.Error(t, err, "nothing listens after remove")
		for i := range n {
			for _, st := range c.ActiveStates(ctx, fmt.Sprintf("app@%d.socket", i), units.Instance(i)) {
				assert.NotEqual(t, "active", st, "app@%d and its socket are stopped", i)
			}
		}
		// Removed, not purged: installed again, it starts as a first
		// install does (not left stopped like an upgrade of a stopped one).
		out := c.run(t, "dpkg", "-i", c.put(t, v2))
		assert.NotContains(t, out, "the cluster is stopped")
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, append([]string{units.Socket, units.Target}, c.instances(n)...)...))
		assert.Equal(t, []string{"2.0.0"}, keys(versions()))
		c.run(t, "sh", "-c", `sed -i '/^socket *=/d' /etc/app/app.toml`)
		c.run(t, "sh", "-c", reloader.ApplyListenChange(units.App))
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, append([]string{units.Socket}, c.instances(n)...)...))
	})

	step(t, "remove, purge, reinstall", func(t *testing.T) {
		c.run(t, "dpkg", "-r", "app")
		_, err := net.DialTimeout("tcp", c.addr, 2*time.Second)
		assert.Error(t, err, "nothing listens after remove")
		assert.FileExists(t, filepath.Join(m.Root, units.DefaultConfigPath), "remove keeps the config")
		enabled, _ := c.Run(ctx, "systemctl", "is-enabled", units.Socket, units.Target)
		assert.Equal(t, map[string]bool{"masked": true}, set(enabled), "removed units cannot be started until reinstalled")
		for _, u := range append([]string{units.Socket}, c.instances(n)...) {
			st, _ := c.Run(ctx, "systemctl", "is-active", u)
			assert.NotEqual(t, "active", strings.TrimSpace(st), u)
		}

		c.run(t, "dpkg", "-P", "app")
		enabled, _ = c.Run(ctx, "systemctl", "is-enabled", units.Socket, units.Target)
		assert.NotContains(t, enabled, "masked", "purge removes the masks")
		assert.NotContains(t, enabled, "enabled")
		assert.NoFileExists(t, filepath.Join(m.Root, units.DefaultConfigPath), "purge removes the config")
		assert.NoDirExists(t, filepath.Join(m.Root, "etc/app"))
		assert.NoDirExists(t, filepath.Join(m.Root, "var/lib/app"))

		c.run(t, "dpkg", "-i", c.put(t, v2))
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, append([]string{units.Socket}, c.instances(n)...)...))
		assert.Equal(t, []string{"2.0.0"}, keys(versions()))
	})
}

// step runs one step of a sequence; a failed step ends the sequence.
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// track registers a machine for teardown on failure and interruption.
func track(t *testing.T, m *Machine) {
	machines.Lock()
	if machines.open == nil {
		machines.open = map[*Machine]bool{}
	}
	machines.open[m] = true
	machines.Unlock()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("journal of the container:\n%s", m.Journal(context.Background()))
		}
		machines.Lock()
		delete(machines.open, m)
		machines.Unlock()
		m.Close()
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func set(s string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.Fields(s) {
		out[f] = true
	}
	return out
}

// TestReproducibleDeb: two builds of one commit are the same bytes, every
// file dated SOURCE_DATE_EPOCH (the last commit's time).
func TestReproducibleDeb(t *testing.T) {
	first := buildDeb(t, "4.0.0", "")
	kept := filepath.Join(t.TempDir(), filepath.Base(first))
	b1, err := os.ReadFile(first)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(kept, b1, 0o644))
	time.Sleep(1100 * time.Millisecond) // a second later: any clock in the build shows
	b2, err := os.ReadFile(buildDeb(t, "4.0.0", ""))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(b1, b2), "two builds differ: diffoscope %s %s", kept, first)

	epoch, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
	require.NoError(t, err)
	sec, err := strconv.ParseInt(strings.TrimSpace(string(epoch)), 10, 64)
	require.NoError(t, err)
	want := time.Unix(sec, 0).UTC().Format("2006-01-02 15:04")
	list, err := exec.Command("dpkg-deb", "--fsys-tarfile", first).Output()
	require.NoError(t, err)
	tr := tar.NewReader(bytes.NewReader(list))
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		assert.Equal(t, want, h.ModTime.UTC().Format("2006-01-02 15:04"), "%s is dated SOURCE_DATE_EPOCH", h.Name)
		n++
	}
	assert.Greater(t, n, 20)
}

// TestPackageFields: the control fields an operator reads, as the build
// sets them.
func TestPackageFields(t *testing.T) {
	deb := buildDeb(t, "2.0.0", "")
	field := func(name string) string {
		out, err := exec.Command("dpkg-deb", "-f", deb, name).Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "openssh-client, nodejs, prometheus-node-exporter", field("Suggests"))
	assert.Equal(t, "app developers <dev@app.invalid>", field("Maintainer"), "the default")
	assert.Empty(t, field("Homepage"), "no made-up home page")
	contents, err := exec.Command("dpkg-deb", "-c", deb).Output()
	require.NoError(t, err)
	for _, f := range []string{"./usr/share/app/worker.js", "./usr/share/man/man5/app.toml.5.gz", "./usr/share/man/man8/app-generator.8.gz",
		"./usr/share/zsh/vendor-completions/_app-reloader", "./usr/share/fish/vendor_completions.d/app-reloader.fish", "./usr/share/bash-completion/completions/app-reloader"} {
		assert.Contains(t, string(contents), f)
	}
	assert.Regexp(t, `\./usr/share/doc/app/examples/worker\.js -> \.\./\.\./\.\./app/worker\.js`, string(contents), "a link where the first releases had it")
	out, err := exec.Command("sh", "-c", "dpkg-deb --fsys-tarfile "+deb+" | tar -xO ./usr/share/doc/app/changelog.gz | gunzip | dpkg-parsechangelog -l - -S Version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "2.0.0", strings.TrimSpace(string(out)))
}

// TestChangelogFromHistory: packaging/changelog.sh on a history with a
// release tag: an entry for the new version with the changes since the
// tag, then the tagged release's own, as dpkg-parsechangelog reads them.
func TestChangelogFromHistory(t *testing.T) {
	script, err := filepath.Abs("../packaging/changelog.sh")
	require.NoError(t, err)
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	git("init", "-q")
	git("commit", "-q", "--allow-empty", "-m", "first release")
	git("tag", "v1.0.0")
	git("commit", "-q", "--allow-empty", "-m", "rollouts wait for the spare: a subject long enough to be wrapped over more than one line of the changelog, as Debian wants")
	git("commit", "-q", "--allow-empty", "-m", "a second change")
	cmd := exec.Command("sh", script, "1.1.0-1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1764633600", "MAINTAINER=Ops <ops@example.org>")
	changelog, err := cmd.Output()
	require.NoError(t, err)
	t.Logf("changelog:\n%s", changelog)
	for _, l := range strings.Split(string(changelog), "\n") {
		assert.LessOrEqual(t, len(l), 80, "line %q", l)
	}
	parse := func(args ...string) string {
		cmd := exec.Command("dpkg-parsechangelog", append([]string{"-l", "-"}, args...)...)
		cmd.Stdin = bytes.NewReader(changelog)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	assert.Equal(t, "1.1.0-1", parse("-S", "Version"))
	assert.Equal(t, "Ops <ops@example.org>", parse("-S", "Maintainer"))
	assert.Equal(t, "Tue, 02 Dec 2025 00:00:00 +0000", parse("-S", "Date"))
	changes := parse("-S", "Changes")
	assert.Contains(t, changes, "* a second change")
	assert.Contains(t, changes, "* rollouts wait for the spare")
	assert.NotContains(t, changes, "first release", "that is 1.0.0's")
	var versions []string
	for _, l := range strings.Split(parse("--all", "--format", "rfc822"), "\n") {
		if v, ok := strings.CutPrefix(l, "Version: "); ok {
			versions = append(versions, v)
		}
	}
	assert.Equal(t, []string{"1.1.0-1", "1.0.0"}, versions, "an entry per release, newest first")
	since := parse("--since", "1.0.0", "-S", "Changes")
	assert.NotContains(t, since, "first release", "apt-listchanges shows what is newer than the version installed")
}

// TestLintian checks the package with Debian's own checker: no errors.
// What warnings remain is explained in packaging/lintian.md.
func TestLintian(t *testing.T) {
	deb := buildDeb(t, "2.0.0", "")
	out, err := exec.Command("lintian", "--fail-on", "error", "-I", deb).CombinedOutput()
	t.Logf("lintian:\n%s", out)
	require.NoError(t, err, "lintian reports errors")
	for _, line := range strings.Split(string(out), "\n") {
		assert.False(t, strings.HasPrefix(line, "W: "), "a warning: %s", line)
	}
}

// firstFields is the first field of each line: fish's completions, each
// with its description after a tab.
func firstFields(out string) []string {
	var f []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if w := strings.Fields(l); len(w) > 0 {
			f = append(f, w[0])
		}
	}
	return f
}
