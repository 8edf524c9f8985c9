//go:build e2e

package e2e

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

// signingKey generates a throwaway signing key and returns the file of
// its armored secret key, as an operator supplies a real one.
func signingKey(t *testing.T, name string) string {
	t.Helper()
	home := t.TempDir()
	gpg := func(args ...string) []byte {
		cmd := exec.Command("gpg", append([]string{"--batch", "--quiet"}, args...)...)
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		out, err := cmd.Output()
		require.NoError(t, err, "gpg %v", args)
		return out
	}
	gpg("--passphrase", "", "--quick-gen-key", name+" <"+name+"@example.invalid>", "ed25519", "sign", "1d")
	key := filepath.Join(t.TempDir(), name+".asc")
	require.NoError(t, os.WriteFile(key, gpg("--armor", "--export-secret-keys"), 0o600))
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "all")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		_ = cmd.Run()
	})
	return key
}

// makeRepo runs `make repo` into dir, signed with key, holding debs.
func makeRepo(t *testing.T, dir, key, url string, debs ...string) {
	t.Helper()
	out, err := exec.Command("make", "-s", "-C", "..", "repo", "REPO_DIR="+dir, "REPO_KEY_FILE="+key,
		"REPO_URL="+url, "DEBS="+strings.Join(debs, " ")).CombinedOutput()
	require.NoError(t, err, "make repo:\n%s", out)
}

// A signed APT repository served over HTTP on loopback: the operator's
// three lines install the cluster; `apt-get upgrade` and a downgrade roll
// it under load; an unsigned or wrongly signed repository changes nothing.
func TestAPTRepository(t *testing.T) {
	requireDefaultAddrFree(t)
	key, wrong := signingKey(t, "app-test-signing"), signingKey(t, "someone-else")
	v1, v2, v3 := buildDeb(t, "1.0.0", ""), buildDeb(t, "2.0.0", ""), buildDeb(t, "3.0.0", "")

	// The repository, served by the host on loopback, which the container
	// shares.
	repo := filepath.Join(t.TempDir(), "repo")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + l.Addr().String() + "/"
	srv := &http.Server{Handler: http.FileServer(http.Dir(repo)), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	makeRepo(t, repo, key, url, v1)

	c := bootPackaged(t)
	ctx := c.ctx
	// An operator's machine with only this repository configured: nothing
	// is fetched from elsewhere.
	c.run(t, "sh", "-c", "rm -rf /etc/apt/sources.list /etc/apt/sources.list.d/* /var/lib/apt/lists/*")
	var n int
	versions := func() map[string]int { return versionsAt(t, c.addr, nil) }
	aptGet := func(args ...string) (string, error) {
		return c.Run(ctx, append([]string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y"}, args...)...)
	}

	step(t, "the three lines: key, source, apt install app", func(t *testing.T) {
		c.run(t, "curl", "-fsSL", "-o", "/usr/share/keyrings/app-archive-keyring.gpg", url+"app-archive-keyring.gpg")
		c.run(t, "curl", "-fsSL", "-o", "/etc/apt/sources.list.d/app.sources", url+"app.sources")
		out, err := c.Run(ctx, "sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y app")
		t.Logf("apt-get update && apt-get install app:\n%s", tail(out, 6))
		require.NoError(t, err, out)
		n, err = c.ConfiguredInstances(ctx)
		require.NoError(t, err)
		require.NoError(t, c.WaitActive(ctx, 30*time.Second, append([]string{units.Socket, units.Target}, c.instances(n)...)...))
		assert.Equal(t, []string{"1.0.0"}, keys(versions()))
	})

	step(t, "a newer version, apt-get upgrade under load: no request fails", func(t *testing.T) {
		makeRepo(t, repo, key, url, v1, v2)
		before, since := c.pids(t, n), time.Now()
		l := c.load(t)
		time.Sleep(time.Second)
		t0 := time.Now()
		out, err := c.Run(ctx, "sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y")
		took := time.Since(t0)
		time.Sleep(time.Second)
		res := l.Stop()
		t.Logf("apt-get update && apt-get upgrade (%s):\n%s", took.Round(time.Millisecond), tail(out, 14))
		require.NoError(t, err, out)
		t.Logf("load through apt-get upgrade 1.0.0 → 2.0.0 (%d instances): %s", n, res.Summary())
		assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
		assert.Contains(t, out, "Unpacking app (2.0.0) over (1.0.0)")
		c.checkRollout(t, "apt-get upgrade", n, before, since, "2.0.0", true)
		assert.Equal(t, []string{"2.0.0"}, keys(versions()))
	})

	// apt refuses the new index and keeps the one it had. (For a bad
	// signature after a good one, apt-get update only warns and exits 0;
	// for a repository no longer signed, it errs.)
	refused := func(t *testing.T, what string, why ...string) {
		t.Helper()
		pids := c.pids(t, n)
		out, _ := aptGet("update")
		t.Logf("apt-get update of %s repository:\n%s", what, tail(out, 6))
		for _, w := range why {
			assert.Regexp(t, w, out)
		}
		policy := c.run(t, "apt-cache", "policy", "app")
		assert.NotContains(t, policy, "3.0.0", "apt knows no 3.0.0")
		out, err := aptGet("install", "app=3.0.0")
		assert.Error(t, err, "3.0.0 is not installable from it: %s", out)
		assert.Contains(t, out, "Version '3.0.0' for 'app' was not found")
		assert.Equal(t, "2.0.0", strings.TrimSpace(c.run(t, "dpkg-query", "-W", "-f", "${Version}", "app")))
		assert.Equal(t, pids, c.pids(t, n), "no instance was touched")
		assert.Equal(t, []string{"2.0.0"}, keys(versions()))
	}

	step(t, "a repository signed by another key is refused, nothing changes", func(t *testing.T) {
		makeRepo(t, repo, wrong, url, v1, v2, v3)
		refused(t, "a wrongly signed", `NO_PUBKEY [0-9A-F]+`, `The repository is not updated and the previous index files will be used`)
	})

	step(t, "an unsigned repository is refused, nothing changes", func(t *testing.T) {
		makeRepo(t, repo, key, url, v1, v2, v3)
		for _, f := range []string{"InRelease", "Release.gpg"} {
			require.NoError(t, os.Remove(filepath.Join(repo, "dists/stable", f)))
		}
		refused(t, "an unsigned", `E: The repository '\S+ stable Release' is no longer signed`)
	})

	step(t, "a downgrade (apt-get install app=1.0.0) rolls too", func(t *testing.T) {
		makeRepo(t, repo, key, url, v1, v2)
		_, err := aptGet("update")
		require.NoError(t, err)
		before, since := c.pids(t, n), time.Now()
		l := c.load(t)
		time.Sleep(time.Second)
		t0 := time.Now()
		out, err := aptGet("install", "--allow-downgrades", "app=1.0.0")
		took := time.Since(t0)
		time.Sleep(time.Second)
		res := l.Stop()
		t.Logf("apt-get install app=1.0.0 (%s):\n%s", took.Round(time.Millisecond), tail(out, 10))
		require.NoError(t, err, out)
		t.Logf("load through the downgrade 2.0.0 → 1.0.0: %s", res.Summary())
		assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
		c.checkRollout(t, "downgrade", n, before, since, "1.0.0", true)
		assert.Equal(t, []string{"1.0.0"}, keys(versions()))
	})

	step(t, "bad input to make repo changes nothing", func(t *testing.T) {
		junk := filepath.Join(t.TempDir(), "app_9.0.0_amd64.deb")
		require.NoError(t, os.WriteFile(junk, []byte("not a package"), 0o644))
		before, err := os.ReadFile(filepath.Join(repo, "dists/stable/InRelease"))
		require.NoError(t, err)
		for _, tc := range []struct{ args, want string }{
			{"DEBS=" + junk, "not a Debian package"},
			{"REPO_KEY_FILE=" + junk, "gpg cannot import it"},
			{"REPO_KEY_FILE=", "no signing key"},
		} {
			args := []string{"-s", "-C", "..", "repo", "REPO_DIR=" + repo, "REPO_KEY_FILE=" + key, "DEBS=" + v1}
			args = append(args, tc.args) // the last assignment wins
			out, err := exec.Command("make", args...).CombinedOutput()
			var ee *exec.ExitError
			assert.True(t, errors.As(err, &ee), "make repo %s must fail", tc.args)
			assert.Contains(t, string(out), "make repo: ", tc.args)
			assert.Contains(t, string(out), tc.want, tc.args)
		}
		after, err := os.ReadFile(filepath.Join(repo, "dists/stable/InRelease"))
		require.NoError(t, err)
		assert.Equal(t, before, after, "the published repository is untouched")
	})
}

// repo.sh killed with SIGKILL (no trap runs) leaves neither the imported
// secret key on disk nor a gpg-agent holding it: the keyring is a tmpfs
// in the run's own mount namespace, and the agent dies with the run's PID
// namespace. A fake apt-ftparchive holds the run after the key is imported
// and says where the keyring is.
func TestRepoKeyDoesNotOutliveAKill(t *testing.T) {
	key := signingKey(t, "app-test-killed")
	deb := buildDeb(t, "1.0.0", "")
	fake := t.TempDir()
	marker := filepath.Join(fake, "keyring")
	require.NoError(t, os.WriteFile(filepath.Join(fake, "apt-ftparchive"),
		[]byte("#!/bin/sh\necho \"$GNUPGHOME\" > "+marker+".tmp && mv "+marker+".tmp "+marker+"\nexec sleep 60\n"), 0o755))
	cmd := exec.Command("../packaging/repo.sh", deb)
	cmd.Env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"), "REPO_DIR="+filepath.Join(t.TempDir(), "repo"), "REPO_KEY_FILE="+key)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	var home string
	for deadline := time.Now().Add(30 * time.Second); home == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(marker)
		home = strings.TrimSpace(string(b))
	}
	require.NotEmpty(t, home, "the run reached apt-ftparchive: %s", out.String())
	require.NotEmpty(t, agentsOf(home), "the key is imported and its agent runs: the kill below is a real test")

	require.NoError(t, cmd.Process.Kill()) // the run we started, by its PID
	<-exited
	deadline := time.Now().Add(10 * time.Second)
	for len(agentsOf(home)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	assert.Empty(t, agentsOf(home), "no gpg-agent outlives the run")
	entries, err := os.ReadDir(home)
	if err == nil {
		assert.Empty(t, entries, "no key material left in %s", home)
		_ = os.Remove(home)
	}
	t.Logf("killed repo.sh: keyring %s left %d entries, %d agents", home, len(entries), len(agentsOf(home)))
}

// agentsOf lists the gpg-agents serving the keyring home.
func agentsOf(home string) []string {
	var pids []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "gpg-agent" && strings.Contains(string(b), home) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}
