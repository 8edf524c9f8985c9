package units

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pm2's YAML form imports as its JSON form does.
func TestImportPM2YAML(t *testing.T) {
	js, err := os.ReadFile("testdata/ecosystem.json")
	require.NoError(t, err)
	yml, err := os.ReadFile("testdata/process.yml")
	require.NoError(t, err)
	data, err := PM2Data("process.yml", yml)
	require.NoError(t, err)
	for _, app := range []string{"api", "worker"} {
		want, err := ImportPM2("ecosystem.json", js, PM2Options{App: app, Env: "production"})
		if app == "worker" {
			want, err = ImportPM2("ecosystem.json", js, PM2Options{App: app})
		}
		require.NoError(t, err)
		got, err := ImportPM2("ecosystem.json", data, PM2Options{App: app, Env: map[string]string{"api": "production"}[app]})
		require.NoError(t, err)
		assert.Equal(t, want.TOML, got.TOML, app)
		assert.ElementsMatch(t, want.Unmapped, got.Unmapped, app)
	}
}

func TestPM2DataRefuses(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"p.yml", "apps: [", "not YAML"},
		// A billion laughs: aliases that expand beyond reason.
		{"p.yml", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n", "excessive aliasing"},
		{"p.json", strings.Repeat(" ", MaxPM2File+1), "more than"},
	} {
		_, err := PM2Data(tc.name, []byte(tc.data))
		require.ErrorIs(t, err, ErrPM2, tc.name)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := PM2Data("ecosystem.config.js", []byte("module.exports = {}"))
	assert.ErrorIs(t, err, ErrPM2JavaScript)
	assert.Equal(t, "js", PM2Format("eco", []byte("module.exports = {apps: []}")))
	assert.Equal(t, "json", PM2Format("eco", []byte(` {"apps": []}`)))
	assert.Equal(t, "yaml", PM2Format("eco", []byte("apps:\n  - script: x\n")))
}

// A bare script is found as pm2 finds it: in cwd, else on PATH.
func TestImportPM2FindsScripts(t *testing.T) {
	path := map[string]string{"gunicorn": "/usr/bin/gunicorn", "python3": "/usr/bin/python3", "npm": "/usr/bin/npm"}
	o := PM2Options{
		LookPath: func(name string) (string, error) {
			if p, ok := path[name]; ok {
				return p, nil
			}
			return "", errors.New("not found")
		},
		IsFile: func(p string) bool { return p == "/opt/pyapp/manage.py" },
	}
	notes := func(im PM2Import) string {
		var b strings.Builder
		for _, n := range im.Notes {
			b.WriteString(n.Key + ": " + n.Why + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct{ in, script, args, note string }{
		{`{"script": "gunicorn", "args": "-w 2 app:app", "cwd": "/opt/pyapp"}`, "/usr/bin/gunicorn", `["-w", "2", "app:app"]`, `"gunicorn": found on PATH as /usr/bin/gunicorn`},
		{`{"script": "manage.py", "cwd": "/opt/pyapp", "interpreter": "python3", "interpreter_args": "-u"}`, "/usr/bin/python3", `["-u", "/opt/pyapp/manage.py"]`, ""},
		{`{"script": "server.js", "cwd": "/srv/api"}`, NodePath, `["/srv/api/server.js"]`, "/srv/api/server.js is not on this machine"},
		{`{"script": "npm", "args": "start", "cwd": "/srv/api"}`, "/usr/bin/npm", `["start"]`, "npm runs the app as its child"},
		{`{"script": "server.js", "cwd": "/srv/api", "kill_timeout": 5000}`, NodePath, `["/srv/api/server.js"]`, "drain within 4s of it (APP_DRAIN_TIMEOUT"},
	} {
		im, err := ImportPM2("eco.json", []byte(tc.in), o)
		require.NoError(t, err, tc.in)
		assert.Contains(t, im.TOML, "script = \""+tc.script+"\"\n", tc.in)
		assert.Contains(t, im.TOML, "args = "+tc.args+"\n", tc.in)
		assert.Contains(t, notes(im), tc.note, tc.in)
	}
	_, err := ImportPM2("eco.json", []byte(`{"script": "hypnotoad", "cwd": "/opt/pyapp"}`), o)
	require.ErrorIs(t, err, ErrPM2)
	assert.Contains(t, err.Error(), `"hypnotoad" is neither in /opt/pyapp nor on PATH here`)
}

// kill_timeout becomes systemd's stop timeout and the drain the worker
// reads; a server with a drain timeout of its own is told to keep it below.
func TestImportPM2KillTimeout(t *testing.T) {
	o := PM2Options{LookPath: func(name string) (string, error) { return "/usr/bin/" + name, nil }}
	im, err := ImportPM2("eco.json", []byte(`{"script": "gunicorn", "args": "app:app", "kill_timeout": 10000}`), o)
	require.NoError(t, err)
	var why []string
	for _, n := range im.Notes {
		if n.Key == "kill_timeout" {
			why = append(why, n.Why)
		}
	}
	require.Len(t, why, 2, "%v", im.Notes)
	assert.Contains(t, why[0], "10s from SIGTERM to SIGKILL")
	assert.Contains(t, why[1], "gunicorn drains within its own --graceful-timeout, 30s by default")
	assert.Contains(t, why[1], "set it below, to 9s")

	im, err = ImportPM2("eco.json", []byte(`{"script": "gunicorn", "args": ["--graceful-timeout", "8", "app:app"], "kill_timeout": 10000}`), o)
	require.NoError(t, err)
	for _, n := range im.Notes {
		assert.NotContains(t, n.Why, "its own --graceful-timeout")
	}
	im, err = ImportPM2("eco.json", []byte(`{"script": "/srv/x"}`), o)
	require.NoError(t, err)
	assert.Contains(t, im.Notes, PM2Key{"kill_timeout", "not set: pm2 kills after 1.6s, app after 30s (its default), which a drain under load needs"})
}

// The environment is written as env.NAME keys, not an [env] table at the
// end: a setting an operator appends later stays a setting.
func TestImportPM2EnvDoesNotSwallowLaterSettings(t *testing.T) {
	im, err := ImportPM2("eco.json", []byte(`{"script": "/srv/x", "env": {"NODE_ENV": "production", "API_KEY": "1", "API-KEY": "2"}}`), PM2Options{})
	require.NoError(t, err)
	assert.Contains(t, im.Unmapped, PM2Key{"env.API-KEY", "not a variable name systemd passes on (letters, digits and _, not first a digit)"})
	assert.NotContains(t, im.TOML, "[env]")
	assert.Contains(t, im.TOML, "env.NODE_ENV = \"production\"\n")
	cfg, err := Parse("out", []byte(im.TOML+"probe_path = \"/healthz\"\n"))
	require.NoError(t, err, im.TOML)
	assert.Equal(t, ProbePath("/healthz"), cfg.ProbePath)
	assert.Equal(t, map[string]string{"NODE_ENV": "production", "API_KEY": "1"}, cfg.Env)
}

// JavaScript ecosystem files are evaluated by node, confined.
func TestEvalPM2JS(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is needed (apt-get install nodejs): JavaScript ecosystem files are evaluated by it")
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	write("base.js", "module.exports = { instances: 3 };\n")
	eco := write("ecosystem.config.js", "const base = require('./base');\nmodule.exports = { apps: [{ name: 'api', script: '/srv/api/server.js', instances: base.instances, env: { FROM_ENV: process.env.PM2_TEST_VAR } }] };\n")
	t.Setenv("PM2_TEST_VAR", "seen")
	data, err := EvalPM2JS(context.Background(), eco)
	require.NoError(t, err)
	im, err := ImportPM2(eco, data, PM2Options{})
	require.NoError(t, err)
	assert.Contains(t, im.TOML, "instances = 3\n")
	assert.Contains(t, im.TOML, "env.FROM_ENV = \"seen\"\n")

	mjs := write("ecosystem.config.mjs", "export default { apps: [{ name: 'esm', script: '/srv/x' }] };\n")
	data, err = EvalPM2JS(context.Background(), mjs)
	require.NoError(t, err)
	im, err = ImportPM2(mjs, data, PM2Options{})
	require.NoError(t, err)
	assert.Equal(t, "esm", im.App)

	// What the file may not do: write, start a process, read elsewhere.
	marker := filepath.Join(t.TempDir(), "written")
	for name, body := range map[string]string{
		"write.config.js": "require('fs').writeFileSync(" + jsString(marker) + ", 'x'); module.exports = {};",
		"exec.config.js":  "require('child_process').execSync('touch " + marker + "'); module.exports = {};",
		"read.config.js":  "module.exports = { apps: [{ script: require('fs').readFileSync('/etc/hostname', 'utf8') }] };",
		"throw.config.js": "throw new Error('broken config');",
	} {
		_, err := EvalPM2JS(context.Background(), write(name, body))
		require.ErrorIs(t, err, ErrPM2, name)
		assert.Contains(t, err.Error(), "node could not evaluate it", name)
		assert.NoFileExists(t, marker, name)
	}

	old := PM2JSTimeout
	PM2JSTimeout = time.Second
	t.Cleanup(func() { PM2JSTimeout = old })
	_, err = EvalPM2JS(context.Background(), write("loop.config.js", "for (;;) {}"))
	require.ErrorIs(t, err, ErrPM2)
	assert.Contains(t, err.Error(), "did not finish within 1s")
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }
