//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/app/reloader/fleet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aptDownload fetches from Debian the packages this machine lacks to
// install pkgs (apt-get download: nothing is installed here), for
// machines that have no network of their own.
func aptDownload(t *testing.T, pkgs ...string) string {
	t.Helper()
	simulate := func() ([]byte, error) {
		return exec.Command("apt-get", append([]string{"install", "-s", "--no-install-recommends"}, pkgs...)...).Output()
	}
	sim, err := simulate()
	if err != nil {
		// No package lists yet on a fresh machine.
		out, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput()
		require.NoError(t, uerr, "apt-get update:\n%s", out)
		sim, err = simulate()
	}
	require.NoError(t, err, "apt-get install -s %v", pkgs)
	var need []string
	for _, l := range strings.Split(string(sim), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Inst" {
			need = append(need, f[1])
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("apt-get", append([]string{"download", "-q"}, need...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "apt-get download %v:\n%s", need, out)
	return dir
}

// sshDebs and nginxDebs are what openssh-server and nginx may need
// beyond what this machine has.
var (
	sshDebs   = []string{"openssh-client", "openssh-sftp-server", "openssh-server", "runit-helper", "libwrap0"}
	nginxDebs = []string{"nginx-common", "nginx"}
)

// installDebs installs the packages in dir on the machine with dpkg,
// without starting any service (policy-rc.d says no, as in an image build).
func (c *cluster) installDebs(t *testing.T, dir string, names ...string) {
	t.Helper()
	dst := filepath.Join(c.Root, "root/debs")
	require.NoError(t, os.MkdirAll(dst, 0o755))
	var files []string
	for _, n := range names {
		m, err := filepath.Glob(filepath.Join(dir, n+"_*.deb"))
		require.NoError(t, err)
		for _, f := range m {
			require.NoError(t, copyFile(f, filepath.Join(dst, filepath.Base(f)), 0o644))
			files = append(files, "/root/debs/"+filepath.Base(f))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(c.Root, "usr/sbin/policy-rc.d"), []byte("#!/bin/sh\nexit 101\n"), 0o755))
	out, err := c.Run(c.ctx, append([]string{"env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", "--force-confold"}, files...)...)
	require.NoError(t, err, "dpkg -i %v:\n%s", names, tail(out, 20))
	require.NoError(t, os.Remove(filepath.Join(c.Root, "usr/sbin/policy-rc.d")))
}

// Several hosts, each a throwaway systemd in a network namespace of its
// own, behind Debian's nginx balancing across them: `app-reloader deploy`
// rolls a new .deb over the hosts one after another under load through
// nginx; a broken release stops on the first host and the others keep the
// old version.
func TestFleet(t *testing.T) {
	const hostsN, instances = 2, 2
	debs := aptDownload(t, "openssh-server", "nginx")
	v1, v2, v3 := buildDeb(t, "1.0.0", ""), buildDeb(t, "2.0.0", ""), buildDeb(t, "3.0.0", brokenWorker(t))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// The balancer's namespace, linked to each host's: 10.98.N.1 (lan) —
	// 10.98.N.2 (host N).
	lan, err := NewNetNS("lan")
	require.NoError(t, err)
	t.Cleanup(lan.Close)
	ssh := newSSHClient(t)
	var hosts []*cluster
	var names, upstreams []string
	for i := 1; i <= hostsN; i++ {
		ns, err := NewNetNS(fmt.Sprintf("h%d", i))
		require.NoError(t, err)
		t.Cleanup(ns.Close)
		require.NoError(t, Link(lan, fmt.Sprintf("ae2e-h%d", i), fmt.Sprintf("10.98.%d.1/24", i), ns, "eth0", fmt.Sprintf("10.98.%d.2/24", i)))
		m, err := BootIn(ctx, ns)
		require.NoError(t, err)
		track(t, m)
		addr := fmt.Sprintf("10.98.%d.2", i)
		c := &cluster{Machine: m, addr: addr + ":8080", ctx: ctx}
		name := fmt.Sprintf("host%d", i)
		c.installDebs(t, debs, sshDebs...)
		ssh.startSSHD(t, c, name, addr, 22)
		require.NoError(t, c.WriteConfig(fmt.Sprintf("instances = %d\nlisten = [%q]\n", instances, c.addr)))
		out, err := c.Run(ctx, "sh", "-c", "cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold ./"+filepath.Base(c.put(t, v1)))
		require.NoError(t, err, tail(out, 10))
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, c.instances(instances)...))
		hosts, names, upstreams = append(hosts, c), append(names, name), append(upstreams, c.addr)
	}

	// nginx, in the balancer's namespace, across the hosts.
	bm, err := BootIn(ctx, lan)
	require.NoError(t, err)
	track(t, bm)
	balancer := &cluster{Machine: bm, ctx: ctx}
	balancer.installDebs(t, debs, nginxDebs...)
	site := nginxConfig(t, strings.Join(upstreams, ";\n\tserver "), "127.0.0.1:80")
	balancer.run(t, "rm", "-f", "/etc/nginx/sites-enabled/default")
	require.NoError(t, os.WriteFile(filepath.Join(bm.Root, "etc/nginx/sites-enabled/app"), []byte(site), 0o644))
	balancer.run(t, "nginx", "-t", "-q")
	balancer.run(t, "systemctl", "start", "nginx.service")

	load := func() *Load {
		l, err := StartLoad(LoadOptions{Addr: "127.0.0.1:80", NetNS: lan, KeepAlive: 8, NewConn: 4, MaxRequests: 5_000_000, MaxDuration: 5 * time.Minute})
		require.NoError(t, err)
		return l
	}
	versions := func(t *testing.T) map[string]int { return versionsAt(t, "127.0.0.1:80", lan) }
	deploy := func(t *testing.T, deb string) ([]fleet.HostResult, string, error) {
		cmd := lan.Command(filepath.Join(bins["1"], "app-reloader"), "deploy", "-ssh", "ssh -F "+ssh.config, "-json", "-host", strings.Join(names, ","), deb)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		t.Logf("app-reloader deploy -host %s %s:\n%s", strings.Join(names, ","), filepath.Base(deb), stderr.String())
		var res []fleet.HostResult
		require.NoError(t, json.Unmarshal([]byte(stdout.String()), &res), stdout.String())
		return res, stderr.String(), err
	}
	assert.Equal(t, []string{"1.0.0"}, keys(versions(t)))

	step(t, "a new .deb across the hosts under load through nginx", func(t *testing.T) {
		var before []map[string]int
		for _, c := range hosts {
			before = append(before, c.pids(t, instances))
		}
		since := time.Now()
		l := load()
		time.Sleep(time.Second)
		t0 := time.Now()
		res, errs, err := deploy(t, v2)
		took := time.Since(t0)
		time.Sleep(time.Second)
		r := l.Stop()
		require.NoError(t, err, errs)
		t.Logf("through nginx during the deploy of 2.0.0 to %d hosts (%s): %s; by version %v", hostsN, took.Round(time.Millisecond), r.Summary(), r.By(func(s Sample) string { return s.Version }))
		assert.Zero(t, r.Failed(), "failed requests: %v", r.Errors(10))
		assert.Greater(t, r.Served(), 1000)
		require.Len(t, res, hostsN)
		for i, c := range hosts {
			require.NotNil(t, res[i].Report, names[i])
			t.Logf("%s: %s end to end (copy, apt-get install, its rollout %s)", names[i], res[i].Took.Round(time.Millisecond), res[i].Report.Took.Round(time.Millisecond))
			c.checkRollout(t, names[i], instances, before[i], since, "2.0.0", true)
		}
		assert.True(t, res[0].Report.Started.Before(res[1].Report.Started), "one host after the other")
		assert.Equal(t, []string{"2.0.0"}, keys(versions(t)))
	})

	step(t, "a broken release stops on the first host; the others keep the old version", func(t *testing.T) {
		var before []map[string]int
		for _, c := range hosts {
			before = append(before, c.pids(t, instances))
		}
		l := load()
		res, errs, err := deploy(t, v3)
		r := l.Stop()
		require.Error(t, err, "the deploy fails")
		assert.Contains(t, errs, "host1: FAILED at app@spare.service")
		assert.Contains(t, errs, "rollout failed on a host: host1; the hosts after it were not touched")
		require.Len(t, res, hostsN)
		assert.True(t, res[1].Skipped)
		for i, c := range hosts {
			assert.Equal(t, before[i], c.pids(t, instances), "%s: no instance touched", names[i])
		}
		assert.Equal(t, "2.0.0", strings.TrimSpace(hosts[1].run(t, "dpkg-query", "-W", "-f", "${Version}", "app")), "host2 keeps 2.0.0")
		t.Logf("through nginx during the failed deploy: %s", r.Summary())
		assert.Zero(t, r.Failed(), "failed requests: %v", r.Errors(10))
		assert.Equal(t, []string{"2.0.0"}, keys(versions(t)), "every host still serves 2.0.0")
	})

	step(t, "Ansible rolls a release from the signed repository, one host at a time, under load; a broken one stops at the first host", func(t *testing.T) {
		_, err := exec.LookPath("ansible-playbook")
		require.NoError(t, err, "ansible-core is not installed (make e2e-deps installs it)")
		key := signingKey(t, "app-fleet-signing")
		v4, v5 := buildDeb(t, "4.0.0", ""), buildDeb(t, "5.0.0", brokenWorker(t))
		repo := filepath.Join(t.TempDir(), "repo")
		makeRepo(t, repo, key, "http://10.98.0.1/", v4)
		// The repository, served in the balancer's namespace (each host
		// reaches it at 10.98.N.1); nothing else is in the hosts' sources.
		srv := lan.Command("/usr/bin/python3", "-m", "http.server", "--bind", "0.0.0.0", "8444", "--directory", repo)
		require.NoError(t, srv.Start())
		t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
		for _, c := range hosts {
			c.run(t, "sh", "-c", "rm -rf /etc/apt/sources.list /etc/apt/sources.list.d/* /var/lib/apt/lists/*")
		}
		// Short: ssh's control sockets go under HOME, and a Unix socket's
		// path may not be longer than 107 bytes (t.TempDir's is).
		dir, err := os.MkdirTemp("", "ansible-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		inv := filepath.Join(dir, "inventory.ini")
		var b strings.Builder
		b.WriteString("[app]\n")
		for i, name := range names {
			fmt.Fprintf(&b, "%s app_repo_url=http://10.98.%d.1:8444/\n", name, i+1)
		}
		fmt.Fprintf(&b, "\n[app:vars]\nansible_ssh_common_args='-F %s'\nansible_python_interpreter=/usr/bin/python3\n", ssh.config)
		require.NoError(t, os.WriteFile(inv, []byte(b.String()), 0o600))
		playbook, err := filepath.Abs("../packaging/ansible/rollout.yml")
		require.NoError(t, err)
		play := func(t *testing.T) (string, error) {
			t0 := time.Now()
			cmd := lan.Command("ansible-playbook", "-i", inv, playbook, "-e", "app_repo_key="+filepath.Join(repo, "app-archive-keyring.gpg"))
			cmd.Env = append(os.Environ(), "HOME="+dir, "LC_ALL=C.UTF-8", "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"), "ANSIBLE_FORKS=1")
			out, err := cmd.CombinedOutput()
			t.Logf("ansible-playbook (%s):\n%s", time.Since(t0).Round(time.Millisecond), tail(string(out), 30))
			return string(out), err
		}

		var before []map[string]int
		for _, c := range hosts {
			before = append(before, c.pids(t, instances))
		}
		since := time.Now()
		l := load()
		time.Sleep(time.Second)
		_, err = play(t)
		time.Sleep(time.Second)
		r := l.Stop()
		require.NoError(t, err)
		t.Logf("through nginx during ansible-playbook (4.0.0, %d hosts): %s; by version %v", hostsN, r.Summary(), r.By(func(s Sample) string { return s.Version }))
		assert.Zero(t, r.Failed(), "failed requests: %v", r.Errors(10))
		var started []time.Time
		for i, c := range hosts {
			c.checkRollout(t, names[i], instances, before[i], since, "4.0.0", true)
			var st struct {
				LastRollout struct{ Started time.Time } `json:"last_rollout"`
			}
			require.NoError(t, json.Unmarshal([]byte(c.run(t, "app-reloader", "status", "--json")), &st))
			started = append(started, st.LastRollout.Started)
		}
		assert.True(t, started[0].Before(started[1]), "one host after the other (serial: 1)")
		assert.Equal(t, []string{"4.0.0"}, keys(versions(t)))

		// A broken release: the first host's rollout halts on its spare,
		// the play stops there, the second host is not touched.
		makeRepo(t, repo, key, "http://10.98.0.1/", v4, v5)
		before = before[:0]
		for _, c := range hosts {
			before = append(before, c.pids(t, instances))
		}
		l = load()
		out, err := play(t)
		r = l.Stop()
		require.Error(t, err, "the play fails")
		assert.Contains(t, out, "host1: app app: rollout failed")
		assert.NotContains(t, out, "host2 ", "host2 is never reached")
		t.Logf("through nginx during the failed play: %s", r.Summary())
		assert.Zero(t, r.Failed(), "failed requests: %v", r.Errors(10))
		for i, c := range hosts {
			assert.Equal(t, before[i], c.pids(t, instances), "%s: no instance touched", names[i])
		}
		assert.Equal(t, "4.0.0", strings.TrimSpace(hosts[1].run(t, "dpkg-query", "-W", "-f", "${Version}", "app")), "host2 keeps 4.0.0")
		assert.Equal(t, []string{"4.0.0"}, keys(versions(t)))
	})
}

// startSSHD lets this client's key log in as root on the machine, whose
// openssh-server is installed, on addr:port; the machine is then `name` in
// the client's config.
func (s *sshClient) startSSHD(t *testing.T, c *cluster, name, addr string, port int) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(c.Root, "etc/ssh/sshd_config.d/app-e2e.conf"),
		fmt.Appendf(nil, "Port %d\nListenAddress %s\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n", port, addr), 0o644))
	pub, err := os.ReadFile(s.key + ".pub")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(c.Root, "root/.ssh"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(c.Root, "root/.ssh/authorized_keys"), pub, 0o600))
	c.run(t, "systemctl", "start", "ssh.service")
	hostKey, err := os.ReadFile(filepath.Join(c.Root, "etc/ssh/ssh_host_ed25519_key.pub"))
	require.NoError(t, err)
	f := strings.Fields(string(hostKey))
	known, err := os.OpenFile(filepath.Join(s.dir, "known_hosts"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	fmt.Fprintf(known, "%s %s %s\n", name, f[0], f[1])
	require.NoError(t, known.Close())
	cfg, err := os.OpenFile(s.config, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	fmt.Fprintf(cfg, "Host %s\n  HostName %s\n  Port %d\n  User root\n  HostKeyAlias %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  ConnectTimeout 10\n\n",
		name, addr, port, name, s.key, filepath.Join(s.dir, "known_hosts"))
	require.NoError(t, cfg.Close())
}
