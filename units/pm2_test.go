package units

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestImportPM2(t *testing.T) {
	data, err := os.ReadFile("testdata/ecosystem.json")
	require.NoError(t, err)

	im, err := ImportPM2("ecosystem.json", data, PM2Options{App: "api", Env: "production"})
	require.NoError(t, err)
	assert.Equal(t, "api", im.App)
	cfg, err := Parse("out", []byte(im.TOML))
	require.NoError(t, err, im.TOML)
	assert.True(t, cfg.Instances.Auto, "instances = \"max\"")
	assert.Equal(t, Path(NodePath), cfg.Script)
	assert.Equal(t, []string{"--max-old-space-size=400", "/srv/api/server.js", "--mode", "cluster"}, cfg.Args)
	assert.Equal(t, Path("/srv/api"), cfg.Cwd)
	assert.Equal(t, "8s", cfg.ListenTimeout.Std().String())
	assert.Equal(t, "1.6s", cfg.KillTimeout.Std().String())
	assert.Equal(t, "5s", cfg.MinUptime.Std().String())
	assert.Equal(t, Memory("300M"), cfg.MaxMemoryRestart)
	assert.Equal(t, 10, cfg.MaxRestarts)
	assert.Equal(t, map[string]string{"NODE_ENV": "production", "PORT": "3000", "DEBUG": "false"}, cfg.Env)
	assert.Equal(t, []string{"3000"}, cfg.ListenStrings())

	unmapped := map[string]string{}
	for _, u := range im.Unmapped {
		unmapped[u.Key] = u.Why
	}
	for _, k := range []string{"deploy", "restart_delay", "watch", "out_file", "error_file", "merge_logs", "instance_var", "telemetry"} {
		assert.Contains(t, unmapped, k)
		assert.Contains(t, im.TOML, "#   "+k+": ", "the file lists what it left out")
	}
	assert.Equal(t, "not a pm2 option this importer knows", unmapped["telemetry"])
	assert.Contains(t, unmapped["out_file"], "app-reloader logs")
	notes := map[string]string{}
	for _, n := range im.Notes {
		notes[n.Key] = n.Why
	}
	assert.Contains(t, notes["wait_ready"], "READY=1")
	assert.Contains(t, notes["env.PORT"], `listen = ["3000"]`)
	assert.Contains(t, notes["script"], "fd 3")

	// The other app, and without -env: env only.
	im, err = ImportPM2("ecosystem.json", data, PM2Options{App: "worker"})
	require.NoError(t, err)
	cfg, err = Parse("out", []byte(im.TOML))
	require.NoError(t, err, im.TOML)
	assert.Equal(t, Path("/usr/local/bin/queue-worker"), cfg.Script)
	assert.Empty(t, cfg.Args)
	assert.Equal(t, 2, cfg.Count())
}

func TestImportPM2Refuses(t *testing.T) {
	data, err := os.ReadFile("testdata/ecosystem.json")
	require.NoError(t, err)
	for _, tc := range []struct {
		name, data, app, env, want string
	}{
		{"two apps", string(data), "", "", `2 apps ("api", "worker"…): choose one with --app NAME`},
		{"no such app", string(data), "web", "", `no app named "web"`},
		{"no such env", string(data), "api", "staging", "-env staging: the app has no env_staging"},
		{"javascript", "module.exports = {apps: []}", "", "", "this is the JavaScript form"},
		{"not json", `{"apps": [`, "", "", "not JSON"},
		{"relative script", `{"script": "app.js"}`, "", "", "script: \"app.js\": want an absolute path, a program on PATH, or a cwd"},
		{"bad instances", `{"script": "/a", "instances": "many"}`, "", "", `instances: "many": want a number up to 256`},
		{"bad memory", `{"script": "/a", "max_memory_restart": "lots"}`, "", "", `max_memory_restart: "lots"`},
		{"quoted args", `{"script": "/a", "args": "--name 'a b'"}`, "", "", "a string with quotes is ambiguous"},
		{"nothing", `{"apps": []}`, "", "", "no app in the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportPM2("eco.json", []byte(tc.data), PM2Options{App: tc.app, Env: tc.env})
			require.ErrorIs(t, err, ErrPM2)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "eco.json")
		})
	}
}

func TestImportPM2Defaults(t *testing.T) {
	im, err := ImportPM2("eco.json", []byte(`{"script": "/srv/app/bin/server", "kill_timeout": 300, "autorestart": false, "exec_mode": "fork"}`), PM2Options{})
	require.NoError(t, err)
	cfg, err := Parse("out", []byte(im.TOML))
	require.NoError(t, err, im.TOML)
	assert.Equal(t, 1, cfg.Count(), "pm2 runs one instance unless told")
	assert.Equal(t, "1s", cfg.KillTimeout.Std().String())
	var keys []string
	for _, u := range im.Unmapped {
		keys = append(keys, u.Key)
	}
	assert.Equal(t, []string{"autorestart"}, keys)
	assert.Contains(t, im.TOML, "#   autorestart: instances are always restarted")
}

// An ecosystem file a developer can edit must not become settings of the
// cluster (or root code) through the import: control characters in values
// and in key names are refused, with the key named.
func TestImportPM2RefusesControlCharacters(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"apps":[{"name":"a","script":"/usr/bin/node","cwd":"/srv\nDynamicUser=no"}]}`, `cwd: U+000A at byte 4: control characters are refused`},
		{`{"apps":[{"name":"a","script":"/srv/x","env":{"FOO":"bar\rDynamicUser=no\rUser=root"}}]}`, `env.FOO: U+000D at byte 3`},
		{`{"apps":[{"name":"a","script":"/srv/x","evil\nuser = \"nobody\"\nmemory_deny_write_execute = false\n#":1}]}`, `key "evil\nuser = \"nobody\"\nmemory_deny_write_execute = false\n#" in "apps": U+000A at byte 4: control characters are refused`},
		{`{"apps":[{"name":"a","script":"/srv/x","env":{"A\u0000":"1"}}]}`, `key "A\x00" in "env" in "apps": U+0000`},
	} {
		_, err := ImportPM2("ecosystem.json", []byte(tc.in), PM2Options{})
		if assert.Error(t, err, tc.in) {
			assert.Contains(t, err.Error(), tc.want)
			assert.ErrorIs(t, err, ErrPM2)
		}
	}
}
