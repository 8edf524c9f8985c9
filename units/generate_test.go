package units_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

func TestGenerate(t *testing.T) {
	cfg, err := units.Parse("app.toml", []byte(`
instances = 3
listen = ["127.0.0.1:9000", "[::1]:9000"]
script = "/opt/my app/bin/server"
args = ["--name=100%", "$HOME", "say \"hi\""]
cwd = "/srv/app"
kill_timeout = "20s"
listen_timeout = "1m"
max_memory_restart = "1G"
[env]
NODE_ENV = "production"
`))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, units.Generate(cfg, "/etc/app/app.toml", dir))

	sock, err := os.ReadFile(filepath.Join(dir, "app.socket.d", units.DropIn))
	require.NoError(t, err)
	assert.Contains(t, string(sock), "[Socket]\nListenStream=\nListenStream=127.0.0.1:9000\nListenStream=[::1]:9000\n",
		"the shipped address list is reset, then the configured ones")

	svc, err := os.ReadFile(filepath.Join(dir, "app@.service.d", units.DropIn))
	require.NoError(t, err)
	for _, want := range []string{
		"ExecStart=\nExecStart=\"/opt/my app/bin/server\" \"--name=100%%\" \"$$HOME\" \"say \\\"hi\\\"\"\n",
		"WorkingDirectory=/srv/app\n",
		"[Service]\nExecStart=\n",
		"ExecCondition=\nExecCondition=+/usr/bin/app-reloader guard -max-restarts 5 %n\n",
		"EnvironmentFile=" + filepath.Join(dir, units.EnvFile) + "\n",
		"Environment=APP_DRAIN_TIMEOUT=18s\n",
		"TimeoutStartSec=60s\n",
		"TimeoutStopSec=20s\n",
		"MemoryMax=1G\n",
		"Environment=APP_PROBE_SOCKET=/run/app/probe/%i/http.sock\n",
		"RuntimeDirectory=app/probe/%i\nRuntimeDirectoryMode=0700\nRuntimeDirectoryPreserve=yes\n",
		"InaccessiblePaths=-/run/app/private\n",
	} {
		assert.Contains(t, string(svc), want)
	}
	assert.NotContains(t, string(svc), "NODE_ENV", "the environment is in no unit property")

	env, err := os.ReadFile(filepath.Join(dir, units.EnvFile))
	require.NoError(t, err)
	assert.Contains(t, string(env), "\nNODE_ENV='production'\n")
	fi, err := os.Stat(filepath.Join(dir, units.EnvFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "readable by root only")

	spare, err := os.ReadFile(filepath.Join(dir, "app@spare.service.d", units.SpareDropIn))
	require.NoError(t, err)
	assert.Contains(t, string(spare), "BindsTo=app-rollout.scope\nAfter=app-rollout.scope\n",
		"the spare lives only as long as a rollout's scope")
	assert.Contains(t, string(spare), "Restart=no\n")

	var wants []string
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "app.target.wants"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		target, err := os.Readlink(p)
		require.NoError(t, err)
		assert.Equal(t, "/lib/systemd/system/app@.service", target)
		wants = append(wants, d.Name())
		return nil
	}))
	assert.Equal(t, []string{"app@0.service", "app@1.service", "app@2.service"}, wants)
	assert.NoFileExists(t, filepath.Join(dir, units.InstanceSocket), "no socket per instance by default")
	assert.NotContains(t, string(svc), "Sockets=")
}

func TestGenerateSandboxRelaxed(t *testing.T) {
	dropIn := func(t *testing.T, toml string) string {
		t.Helper()
		cfg, err := units.Parse("app.toml", []byte(toml))
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, units.Generate(cfg, "/etc/app/app.toml", dir))
		svc, err := os.ReadFile(filepath.Join(dir, "app@.service.d", units.DropIn))
		require.NoError(t, err)
		return string(svc)
	}
	plain := dropIn(t, "")
	for _, relaxed := range []string{"DynamicUser=", "User=", "ProtectHome=", "ReadWritePaths=", "MemoryDenyWriteExecute="} {
		assert.NotContains(t, plain, relaxed, "the defaults keep the unit's sandbox as shipped")
	}
	svc := dropIn(t, "user = \"deploy\"\ncwd = \"/home/deploy/app\"\nread_write_paths = [\"/home/deploy/app/uploads\", \"/srv/100%\"]\nscript = \"/usr/bin/node\"\n")
	assert.Contains(t, svc, "DynamicUser=no\nUser=deploy\nGroup=\nProtectHome=read-only\nRemoveIPC=no\n")
	assert.Contains(t, svc, "ReadWritePaths=/home/deploy/app/uploads\nReadWritePaths=/srv/100%%\n")
	assert.Contains(t, svc, "MemoryDenyWriteExecute=no\n", "node's JIT needs writable and executable memory")
}

func TestGenerateReusePort(t *testing.T) {
	cfg, err := units.Parse("app.toml", []byte("instances = 2\nsocket = \"reuseport\"\nlisten = [\"127.0.0.1:9000\", \"[::1]:9000\"]\n"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, units.Generate(cfg, "/etc/app/app.toml", dir))

	own, err := os.ReadFile(filepath.Join(dir, units.InstanceSocket))
	require.NoError(t, err)
	assert.Contains(t, string(own), "[Socket]\nReusePort=yes\n")
	assert.Contains(t, string(own), "ListenStream=127.0.0.1:9000\nListenStream=[::1]:9000\n")
	assert.NotContains(t, string(own), "\nService=", "it triggers its own instance")

	sock, err := os.ReadFile(filepath.Join(dir, "app.socket.d", units.DropIn))
	require.NoError(t, err)
	assert.Contains(t, string(sock), "[Socket]\nListenStream=\nListenStream=/run/app/cluster.sock\n",
		"the configured addresses are the instances'; app.socket keeps a local one")

	svc, err := os.ReadFile(filepath.Join(dir, "app@.service.d", units.DropIn))
	require.NoError(t, err)
	assert.Contains(t, string(svc), "[Unit]\nRequires=app@%i.socket\nAfter=app@%i.socket\n\n[Service]\nSockets=app@%i.socket\nExecStart=\n")
	assert.Contains(t, string(svc), "ExecCondition=+/usr/bin/app-reloader guard -max-restarts 5 -socket app@%i.socket %n\n",
		"a crash-looping instance is kept down with its socket")
	assert.Contains(t, string(svc), "ExecStartPost=+/usr/bin/app-reloader steer in %n\nExecStop=+/usr/bin/app-reloader steer out %n\n",
		"new connections go to the instances that serve")

	ok, why, err := units.Generated(cfg, "/etc/app/app.toml", dir)
	require.NoError(t, err)
	assert.True(t, ok, why)
	shared, err := units.Parse("app.toml", []byte("instances = 2\nlisten = [\"127.0.0.1:9000\", \"[::1]:9000\"]\n"))
	require.NoError(t, err)
	ok, _, err = units.Generated(shared, "/etc/app/app.toml", dir)
	require.NoError(t, err)
	assert.False(t, ok, "a change of socket mode is noticed")
}

func TestUnitFilesEmbedded(t *testing.T) {
	for _, name := range []string{units.Socket, units.Template, units.Target, units.Reload} {
		b, err := units.Files.ReadFile("systemd/" + name)
		require.NoError(t, err, name)
		assert.NotEmpty(t, b)
	}
}

func TestGenerated(t *testing.T) {
	cfg, err := units.Parse("app.toml", []byte("instances = 3\n"))
	require.NoError(t, err)
	dir := t.TempDir()
	ok, why, err := units.Generated(cfg, "/etc/app/app.toml", dir)
	require.NoError(t, err)
	assert.False(t, ok, "nothing generated yet")
	assert.NotEmpty(t, why)

	require.NoError(t, units.Generate(cfg, "/etc/app/app.toml", dir))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.service"), []byte("[Service]\n"), 0o644), "another generator's output")
	ok, why, err = units.Generated(cfg, "/etc/app/app.toml", dir)
	require.NoError(t, err)
	assert.True(t, ok, why)

	// The environment file is named where systemd reads it, not where the
	// comparison writes.
	withEnv, err := units.Parse("app.toml", []byte("instances = 3\n[env]\nA = \"1\"\n"))
	require.NoError(t, err)
	envDir := t.TempDir()
	require.NoError(t, units.Generate(withEnv, "/etc/app/app.toml", envDir))
	ok, why, err = units.Generated(withEnv, "/etc/app/app.toml", envDir)
	require.NoError(t, err)
	assert.True(t, ok, why)
	withEnv.Env["A"] = "2"
	ok, _, err = units.Generated(withEnv, "/etc/app/app.toml", envDir)
	require.NoError(t, err)
	assert.False(t, ok, "a changed value is noticed")

	for _, change := range []string{"instances = 2\n", "instances = 4\n", "instances = 3\nkill_timeout = \"5s\"\n", "instances = 3\nlisten = [\"127.0.0.1:9\"]\n"} {
		other, err := units.Parse("app.toml", []byte(change))
		require.NoError(t, err)
		ok, why, err = units.Generated(other, "/etc/app/app.toml", dir)
		require.NoError(t, err)
		assert.False(t, ok, "a changed config is noticed: %q", change)
		assert.NotEmpty(t, why)
	}
	ok, _, err = units.Generated(cfg, "/etc/other.toml", dir)
	require.NoError(t, err)
	assert.False(t, ok, "another source file is another output")
}

// The package's cluster names its units as the unit files and the
// generator do.
func TestClusterNames(t *testing.T) {
	c := units.App
	assert.Equal(t, units.Socket, c.Socket())
	assert.Equal(t, units.Target, c.Target())
	assert.Equal(t, units.Reload, c.ReloadUnit())
	assert.Equal(t, units.Template, c.Template())
	assert.Equal(t, units.Spare, c.Spare())
	assert.Equal(t, units.RolloutScope, c.RolloutScope())
	assert.Equal(t, units.InstanceSocket, c.InstanceSocketTemplate())
	assert.Equal(t, units.Instance(3), c.Instance(3))
	assert.Equal(t, "app@3.socket", c.SocketOf(c.Instance(3)))
	for unit, want := range map[string]int{"app@0.service": 0, "app@12.service": 12} {
		n, ok := c.InstanceNumber(unit)
		assert.True(t, ok, unit)
		assert.Equal(t, want, n, unit)
	}
	for _, unit := range []string{"app@spare.service", "app@01.service", "other@1.service", "app@1.socket", "app@.service"} {
		_, ok := c.InstanceNumber(unit)
		assert.False(t, ok, unit)
	}
	for arg, want := range map[string]string{"0": "app@0.service", "app@1": "app@1.service", "app@2.service": "app@2.service", "spare": "app@spare.service"} {
		got, err := c.InstanceUnit(arg)
		assert.NoError(t, err, arg)
		assert.Equal(t, want, got, arg)
	}
	_, err := c.InstanceUnit("x")
	assert.EqualError(t, err, `instance "x": want its number (0), app@0 or app@0.service`)
}
