//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/reloader"
	"example.com/app/reloader/fleet"
)

// sshClient is a key pair generated for a test and the ssh config that
// names its machines.
type sshClient struct {
	dir, key, config string
}

func newSSHClient(t *testing.T) *sshClient {
	t.Helper()
	dir := t.TempDir()
	s := &sshClient{dir: dir, key: filepath.Join(dir, "id_ed25519"), config: filepath.Join(dir, "config")}
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "app-e2e", "-f", s.key).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return s
}

// installSSHD installs openssh-server in the container from debs (see
// aptDownload), not started by the install, and starts it on a loopback
// port for this client's key; the machine is then `name` in the client's
// config.
func (s *sshClient) installSSHD(t *testing.T, c *cluster, debs, name string) {
	t.Helper()
	c.installDebs(t, debs, sshDebs...)
	s.startSSHD(t, c, name, "127.0.0.1", freePort(t))
}

// reloader runs this machine's app-reloader against the hosts.
func (s *sshClient) reloader(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bins["1"], "app-reloader"), append(args[:1:1], append([]string{"-ssh", "ssh -F " + s.config}, args[1:]...)...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// Two machines, each a throwaway systemd reached over SSH as systemctl -H
// reaches one: status and a rolling deploy across both from this machine,
// under load; a broken release stops on the first machine and the second
// keeps the old release.
func TestRemoteHosts(t *testing.T) {
	const n = 2
	hosts := []*cluster{newCluster(t, "instances = 2\n"), newCluster(t, "instances = 2\n")}
	names := []string{"host1", "host2"}
	ssh := newSSHClient(t)
	debs := aptDownload(t, "openssh-server")
	for i, c := range hosts {
		require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(n)...))
		ssh.installSSHD(t, c, debs, names[i])
	}
	all := strings.Join(names, ",")

	step(t, "status -host", func(t *testing.T) {
		out, errs, err := ssh.reloader(t, "status", "-host", all)
		t.Logf("app-reloader status -host %s:\n%s", all, out)
		require.NoError(t, err, errs)
		for _, name := range names {
			assert.Contains(t, out, "== "+name+"\n")
		}
		assert.Regexp(t, `app@1\.service\s+active`, out)
		out, errs, err = ssh.reloader(t, "status", "-json", "-host", all)
		require.NoError(t, err, errs)
		var st map[string]reloader.Status
		require.NoError(t, json.Unmarshal([]byte(out), &st))
		for i, name := range names {
			require.Len(t, st[name].Instances, n)
			pids := hosts[i].pids(t, n)
			for _, u := range st[name].Instances {
				assert.EqualValues(t, pids[u.Name], u.MainPID, "%s %s", name, u.Name)
			}
		}
	})

	roll := func(t *testing.T, version string) ([]fleet.HostResult, string, error) {
		t.Helper()
		out, errs, err := ssh.reloader(t, "reload", "-json", "-host", all)
		t.Logf("app-reloader reload -host %s (release %s):\n%s", all, version, errs)
		var res []fleet.HostResult
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		return res, errs, err
	}

	step(t, "a rolling deploy across both hosts under load", func(t *testing.T) {
		var loads []*Load
		var before []map[string]int
		since := time.Now()
		for _, c := range hosts {
			loads = append(loads, c.load(t))
			require.NoError(t, c.InstallWorker(bins["2"]))
			before = append(before, c.pids(t, n))
		}
		time.Sleep(time.Second)
		res, errs, err := roll(t, "2")
		require.NoError(t, err, errs)
		require.Len(t, res, 2)
		for i, c := range hosts {
			assert.Equal(t, names[i], res[i].Host)
			assert.Empty(t, res[i].Error)
			require.NotNil(t, res[i].Report)
			assert.True(t, res[i].Report.OK)
			t.Logf("%s: rolled in %s (its own rollout %s)", names[i], res[i].Took.Round(time.Millisecond), res[i].Report.Took.Round(time.Millisecond))
			c.checkRollout(t, names[i], n, before[i], since, "2", true)
		}
		assert.True(t, res[0].Report.Started.Before(res[1].Report.Started), "one host after the other")
		time.Sleep(500 * time.Millisecond)
		for i, l := range loads {
			r := l.Stop()
			t.Logf("load on %s through the deploy: %s", names[i], r.Summary())
			assert.Zero(t, r.Failed(), "%s: failed requests: %v", names[i], r.Errors(10))
		}
	})

	step(t, "a broken release stops on the first host; the second keeps the old one", func(t *testing.T) {
		broken := brokenWorker(t)
		var before []map[string]int
		for _, c := range hosts {
			require.NoError(t, c.InstallWorker(filepath.Dir(broken)))
			before = append(before, c.pids(t, n))
		}
		l := hosts[1].load(t)
		res, errs, err := roll(t, "broken")
		require.Error(t, err, "the deploy fails")
		assert.Contains(t, errs, "host1: FAILED at app@spare.service")
		assert.Contains(t, errs, "host1 | last log lines of app@spare.service")
		assert.Contains(t, errs, "rollout failed on a host: host1; the hosts after it were not touched")
		require.Len(t, res, 2)
		require.NotNil(t, res[0].Report)
		require.NotNil(t, res[0].Report.Failure)
		assert.Equal(t, "app@spare.service", res[0].Report.Failure.Unit)
		assert.True(t, res[1].Skipped, "host2 not touched")
		for i, c := range hosts {
			assert.Equal(t, before[i], c.pids(t, n), "%s: no instance touched (the spare caught it)", names[i])
		}
		r := l.Stop()
		assert.Zero(t, r.Failed())
		assert.Equal(t, []string{"2"}, keys(r.By(func(s Sample) string { return s.Version })), "host2 serves the old release")
		out, _, err := ssh.reloader(t, "status", "-host", "host1")
		require.NoError(t, err)
		assert.Contains(t, out, "last rollout: FAILED")
	})
}

// A host that accepts the connection and then says nothing (a hung
// machine, a black-holed sshd) ends reload -host and status -host within
// ssh's connect timeout, with an error naming it, instead of hanging the
// deploy. No container needed: the silent host is a listener on loopback.
func TestSilentHostTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // never answered, closed with the test
		}
	}()
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	port := l.Addr().(*net.TCPAddr).Port
	s := newSSHClient(t)
	require.NoError(t, os.WriteFile(s.config, []byte(fmt.Sprintf("Host silent\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n", port, s.key)), 0o600))
	for _, args := range [][]string{{"reload", "-host", "silent"}, {"status", "-host", "silent"}} {
		start := time.Now()
		stdout, stderr, err := s.reloader(t, args...)
		took := time.Since(start)
		t.Logf("%s: %s\n%s%s", strings.Join(args, " "), took.Round(10*time.Millisecond), stdout, stderr)
		require.Error(t, err, "a silent host is a failed host")
		assert.Contains(t, stdout+stderr, "silent")
		assert.Contains(t, stdout+stderr, "timed out")
		// ConnectTimeout is 10 s (twice: two D-Bus connections at most).
		assert.Less(t, took, 2*fleet.SSHConnectTimeout+15*time.Second, "bounded by ssh's connect timeout")
	}
}
