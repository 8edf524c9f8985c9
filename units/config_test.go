package units_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/units"
)

func TestParseFull(t *testing.T) {
	cfg, err := units.Parse("app.toml", []byte(`
instances = 4
listen = ["127.0.0.1:8080", "[::1]:8080", "9090", "/run/app/app.sock"]
script = "/usr/bin/node"
args = ["dist/main.js", "--port=fd:3"]
cwd = "/srv/app"
listen_timeout = 50000   # milliseconds, as in pm2
kill_timeout = "5s"
max_memory_restart = "300m"
min_uptime = 2000        # milliseconds, as in pm2
surge = false
probe_path = "/healthz?deep=1"
probe_timeout = "3s"

[env]
NODE_ENV = "production"
PORT = "8080"
`))
	require.NoError(t, err)
	assert.Equal(t, 4, cfg.Count())
	assert.Equal(t, []units.Address{"127.0.0.1:8080", "[::1]:8080", "9090", "/run/app/app.sock"}, cfg.Listen)
	assert.Equal(t, units.Path("/usr/bin/node"), cfg.Script)
	assert.Equal(t, 50*time.Second, cfg.ListenTimeout.Std())
	assert.Equal(t, 5*time.Second, cfg.KillTimeout.Std())
	assert.Equal(t, units.Memory("300M"), cfg.MaxMemoryRestart)
	assert.Equal(t, 2*time.Second, cfg.MinUptime.Std())
	assert.Equal(t, units.SurgeOff, cfg.Surge)
	assert.Equal(t, units.ProbePath("/healthz?deep=1"), cfg.ProbePath)
	assert.Equal(t, 3*time.Second, cfg.ProbeTimeout.Std())
	assert.Equal(t, map[string]string{"NODE_ENV": "production", "PORT": "8080"}, cfg.Env)
}

func TestDefaults(t *testing.T) {
	cfg, err := units.Load(filepath.Join(t.TempDir(), "missing.toml"))
	require.NoError(t, err, "a missing file is the default configuration")
	assert.Equal(t, max(2, runtime.NumCPU()), cfg.Count(), `"auto": one per CPU, at least 2`)
	assert.Equal(t, []units.Address{"127.0.0.1:8080"}, cfg.Listen)
	assert.Equal(t, units.Path("/usr/bin/app"), cfg.Script)
	assert.Equal(t, units.SurgeAuto, cfg.Surge, "surge is on when safe by default")
	assert.Empty(t, cfg.ProbePath, "no HTTP probe by default")

	for _, cpus := range []string{"0", `"max"`, `"auto"`} {
		cfg, err = units.Parse("app.toml", []byte("instances = "+cpus+"\n"))
		require.NoError(t, err, cpus)
		assert.Equal(t, max(2, runtime.NumCPU()), cfg.Count(), "instances = %s is one per CPU, as in pm2", cpus)
	}

	cfg, err = units.Parse("app.toml", []byte("instances = 3\n"))
	require.NoError(t, err)
	assert.Equal(t, []units.Address{"127.0.0.1:8080"}, cfg.Listen, "unset keys keep their defaults")
}

func TestParseRefusesWithFileLineReason(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"instances = -1\n", `app.toml:1: instances: -1 is out of range: want 1 to 256, or 0 or "auto" for one per CPU`},
		{"instances = 257\n", `app.toml:1: instances: 257 is out of range`},
		{"\ninstances = \"lots\"\n", `app.toml:2: instances: "lots": want a number`},
		{"instances = 2\nlisten = [\"localhost:80\"]\n", `app.toml:2: listen: "localhost:80": host "localhost" is not an IP address`},
		{"listen = [\"127.0.0.1:99999\"]\n", `app.toml:1: listen: "127.0.0.1:99999": port "99999": want 1 to 65535`},
		{"listen = []\n", `app.toml:1: listen: at least one address is needed`},
		{"script = \"app\"\n", `app.toml:1: "app": want an absolute path`},
		{"kill_timeout = \"soon\"\n", `app.toml:1: "soon": want a duration`},
		{"kill_timeout = 10\n", `app.toml:1: kill_timeout: 10ms: want from 1s to 24h`},
		{"\nlisten_timeout = \"0s\"\n", `app.toml:2: listen_timeout: 0s: want from 1s to 24h`},
		{"min_uptime = \"-1s\"\n", `app.toml:1: -1s: want from 0s to 24h`},
		{"surge = \"yes\"\n", `app.toml:1: surge: "yes": want true, false or "auto"`},
		{"surge = 1\n", `app.toml:1: surge: 1: want true, false or "auto"`},
		{"probe_path = \"healthz\"\n", `app.toml:1: probe_path: "healthz": want a path such as "/healthz"`},
		{"probe_path = \"/a b\"\n", `app.toml:1: probe_path: "/a b": want a path`},
		{"probe_timeout = \"10ms\"\n", `app.toml:1: probe_timeout: 10ms: want from 1s to 24h`},
		{"\nmax_restarts = -1\n", `app.toml:2: max_restarts: -1: want 0 to 1000`},
		{"max_memory_restart = \"lots\"\n", `app.toml:1: max_memory_restart: "lots": want bytes or a size`},
		{"instances = 2\n\ninstanses = 3\n", `app.toml:3: unknown key "instanses" (known: instances, listen,`},
		{"[env]\nOK = \"1\"\n\"BAD-NAME\" = \"x\"\n", `app.toml:3: env: "BAD-NAME" is not a valid variable name`},
		{"instances = 2\nlisten = [\n", `app.toml:2: unexpected EOF`},
		{"socket = \"reuse\"\n", `app.toml:1: socket: "reuse": want "shared" (one socket all instances accept from) or "reuseport"`},
		{"socket = \"reuseport\"\nlisten = [\"8080\", \"/run/app.sock\"]\n", `app.toml:2: listen: "/run/app.sock": socket = "reuseport" takes TCP addresses only`},
		{"socket = \"reuseport\"\n\nsurge = true\n", `app.toml:3: surge = true needs socket = "shared"`},
		{"user = \"root\"\n", `app.toml:1: user: "root": the instances face the network and must not run as root`},
		{"user = \"Bad Name\"\n", `app.toml:1: user: "Bad Name": want the name of an existing account`},
		{"user = 1000\n", `app.toml:1: user: 1000: want the name of an existing account`},
		{"\ncwd = \"/home/deploy/app\"\n", `app.toml:2: cwd: "/home/deploy/app" is under /home, which the instances' sandbox hides from their dynamic user (ProtectHome=yes): set user to the account that owns it`},
		{"script = \"/root/server\"\n", `app.toml:1: script: "/root/server" is under /root`},
		{"read_write_paths = [\"/home/deploy/uploads\"]\n", `app.toml:1: read_write_paths: "/home/deploy/uploads" is under /home`},
		{"read_write_paths = [\"/\"]\n", `app.toml:1: read_write_paths: "/": want a clean absolute path other than /`},
		{"read_write_paths = [\"/srv/a b\"]\n", `app.toml:1: read_write_paths: "/srv/a b": want a clean absolute path`},
		{"read_write_paths = [\"srv\"]\n", `app.toml:1: "srv": want an absolute path`},
		{"memory_deny_write_execute = \"no\"\n", `app.toml:1: memory_deny_write_execute: "no": want true (no memory both writable and executable), false (for a JIT compiler) or "auto"`},
	} {
		_, err := units.Parse("app.toml", []byte(tc.in))
		if assert.Error(t, err, tc.in) {
			assert.Contains(t, err.Error(), tc.want, tc.in)
			assert.ErrorIs(t, err, units.ErrInvalid, tc.in)
		}
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, err := units.Load(dir) // a directory
	assert.ErrorContains(t, err, "read config")
	p := filepath.Join(dir, "app.toml")
	require.NoError(t, os.WriteFile(p, []byte("instances = -1\n"), 0o644))
	_, err = units.Load(p)
	assert.ErrorContains(t, err, p+":1: instances")
}

func TestMemoryBytes(t *testing.T) {
	for in, want := range map[units.Memory]uint64{"": 0, "512": 512, "300M": 300 << 20, "2G": 2 << 30, "1T": 1 << 40} {
		assert.Equal(t, want, in.Bytes(), in)
	}
}

func TestSocketMode(t *testing.T) {
	cfg, err := units.Parse("app.toml", []byte("listen = [\"127.0.0.1:9000\", \"[::1]:9000\"]\n"))
	require.NoError(t, err)
	assert.Equal(t, units.SocketShared, cfg.Socket, "one shared socket by default")
	assert.Equal(t, []string{"127.0.0.1:9000", "[::1]:9000"}, cfg.SocketListen())
	assert.Nil(t, cfg.InstanceListen())

	cfg, err = units.Parse("app.toml", []byte("socket = \"reuseport\"\nlisten = [\"127.0.0.1:9000\", \"[::1]:9000\"]\n"))
	require.NoError(t, err)
	assert.Equal(t, units.SocketReusePort, cfg.Socket)
	assert.Equal(t, []string{units.ClusterSocket}, cfg.SocketListen(), "app.socket keeps a local Unix socket")
	assert.Equal(t, []string{"127.0.0.1:9000", "[::1]:9000"}, cfg.InstanceListen())
	assert.Equal(t, units.SurgeAuto, cfg.Surge, `surge "auto" is allowed (the reloader rolls without a spare)`)
}

func TestSandboxKeys(t *testing.T) {
	cfg, err := units.Parse("app.toml", []byte("user = \"deploy\"\ncwd = \"/home/deploy/app\"\nread_write_paths = [\"/home/deploy/app/uploads\", \"/var/lib/myapp\"]\n"))
	require.NoError(t, err, "a configured account may run an app in its home")
	assert.Equal(t, units.UserName("deploy"), cfg.User)
	assert.Equal(t, []units.Path{"/home/deploy/app/uploads", "/var/lib/myapp"}, cfg.ReadWritePaths)

	for _, tc := range []struct {
		in   string
		deny bool
	}{
		{"", true}, // the Go worker
		{"script = \"/usr/bin/node\"\n", false},
		{"script = \"/usr/local/bin/java\"\n", false},
		{"script = \"/usr/bin/node\"\nmemory_deny_write_execute = true\n", true},
		{"script = \"/usr/bin/python3\"\n", true},
		{"script = \"/usr/bin/python3\"\nmemory_deny_write_execute = false\n", false},
		{"memory_deny_write_execute = \"auto\"\n", true},
	} {
		cfg, err := units.Parse("app.toml", []byte(tc.in))
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.deny, cfg.DenyWriteExecute(), tc.in)
	}
}

// A line break (or NUL) in any string would let a value write settings of
// its own into the generated units: every string is refused with the file,
// the line and the key, before anything is generated.
func TestParseRefusesControlCharacters(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"cwd = \"/srv\\nDynamicUser=no\\nUser=root\\nExecStartPre=+/some/cmd\"\n", `app.toml:1: cwd: U+000A at byte 4: control characters are refused`},
		{"instances = 2\n[env]\nFOO = \"bar\\rDynamicUser=no\\rUser=root\"\n", `app.toml:3: env.FOO: U+000D at byte 3: control characters are refused`},
		{"listen = [\"/run/a.sock\\nExecStartPre=/some/cmd\"]\n", `app.toml:1: listen: U+000A at byte 11`},
		{"\nscript = \"/usr/bin/app\\u0000x\"\n", `app.toml:2: script: U+0000 at byte 12`},
		{"args = [\"ok\", \"a\\rb\"]\n", `app.toml:1: args: U+000D at byte 1`},
		{"read_write_paths = [\"/srv/x\\r\"]\n", `app.toml:1: read_write_paths: U+000D at byte 6`},
		{"args = [\"\\u001b]0;title\\u0007\"]\n", `app.toml:1: args: U+001B at byte 0`},
		{"args = [\"\\u0085\"]\n", `app.toml:1: args: U+0085 at byte 0`},
		{"args = [\"tab\\there\"]\n", `app.toml:1: args: U+0009 at byte 3`},
		{"[env]\n\"A\\nB\" = \"x\"\n", `app.toml:2: env: "A\nB" is not a valid variable name`},
	} {
		_, err := units.Parse("app.toml", []byte(tc.in))
		if assert.Error(t, err, tc.in) {
			assert.Contains(t, err.Error(), tc.want, tc.in)
			assert.ErrorIs(t, err, units.ErrInvalid, tc.in)
			assert.NotContains(t, err.Error(), "\n", "the error itself is one line")
		}
	}
	// Built in code rather than parsed: refused by Generate, nothing written.
	cfg := units.Default()
	cfg.Env = map[string]string{"FOO": "bar\nUser=root"}
	dir := t.TempDir()
	err := units.Generate(cfg, "app.toml", dir)
	assert.ErrorIs(t, err, units.ErrControlChar)
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries)
}

// A daemon-reload while app.toml does not validate keeps the settings a
// rollout last applied instead of the shipped defaults: the running
// socket stays on its address.
func TestLoadForGenerator(t *testing.T) {
	dir := t.TempDir()
	path, applied := filepath.Join(dir, "app.toml"), filepath.Join(dir, "lib", "applied.toml")
	require.NoError(t, os.WriteFile(path, []byte("listen = [\"127.0.0.1:9000\"]\n"), 0o640))
	cfg, source, fallback, err := units.LoadForGenerator(path, applied)
	require.NoError(t, err)
	assert.Equal(t, path, source)
	assert.Empty(t, fallback)
	assert.Equal(t, []string{"127.0.0.1:9000"}, cfg.ListenStrings())
	require.NoError(t, units.SaveApplied(path, applied))

	require.NoError(t, os.WriteFile(path, []byte("listen = [\"127.0.0.1:9000\"]\ncwd = \"/srv\\nUser=root\"\n"), 0o640))
	assert.Error(t, units.SaveApplied(path, applied), "a bad config is never kept")
	cfg, source, fallback, err = units.LoadForGenerator(path, applied)
	require.NoError(t, err)
	assert.Equal(t, applied, source)
	assert.Contains(t, fallback, path+":2: cwd: U+000A")
	assert.Equal(t, []string{"127.0.0.1:9000"}, cfg.ListenStrings())

	require.NoError(t, os.Remove(applied))
	_, _, _, err = units.LoadForGenerator(path, applied)
	assert.ErrorContains(t, err, path+":2: cwd:", "nothing to fall back to")
}
