package cli

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"example.com/app/units"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryCommandHasHelp(t *testing.T) {
	_, list, _ := runCLI("help")
	for _, name := range Commands() {
		assert.Contains(t, list, "\n  "+name+" ", "help lists %s", name)
		for _, h := range []string{"-h", "--help"} {
			code, out, errs := runCLI(name, h)
			assert.Equal(t, 0, code, "%s %s", name, h)
			assert.True(t, strings.HasPrefix(out, "usage: app-reloader "+name), "%s %s: usage on stdout, got %q", name, h, out)
			assert.Empty(t, errs)
		}
		code, out, _ := runCLI("help", name)
		assert.Equal(t, 0, code)
		assert.Contains(t, out, "usage: app-reloader "+name)
	}
	code, _, errs := runCLI("help", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `unknown command "frobnicate"`)
}

func TestCLIArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"describe"}, "app-reloader describe: missing argument"},
		{[]string{"describe", "0", "1"}, `app-reloader describe: unexpected argument "1"`},
		{[]string{"describe", "web"}, `instance "web": want its number (0), app@0 or app@0.service`},
		{[]string{"logs", "app@x"}, `instance "app@x"`},
		{[]string{"logs", "-n", "-3"}, "--lines -3: want 0 or more"},
		{[]string{"scale"}, "app-reloader scale: missing argument"},
		{[]string{"top", "-interval", "1ms"}, "want --interval of 100ms or more"},
		{[]string{"import-pm2"}, "app-reloader import-pm2: missing argument"},
		{[]string{"status", "extra"}, `no app "extra" (apps: app; another app is a file NAME.toml in /etc/app/apps.d)`},
		{[]string{"status", "app", "extra"}, `unexpected argument "extra"`},
		{[]string{"describe", "web:0"}, `no app "web"`},
	} {
		code, _, errs := runCLI(tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
}

func TestInstanceUnit(t *testing.T) {
	for in, want := range map[string]string{"0": "app@0.service", "app@12": "app@12.service", "app@3.service": "app@3.service", "spare": "app@spare.service"} {
		got, err := units.App.InstanceUnit(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, in := range []string{"", "app@", "01", "-1", "app@0.socket", "web@0", "0 1"} {
		_, err := units.App.InstanceUnit(in)
		assert.Error(t, err, in)
	}
}

func TestScaleTarget(t *testing.T) {
	for arg, want := range map[string]string{"4": "4", "auto": "auto", "max": "auto", "+2": "5", "-2": "1"} {
		got, err := scaleTarget(arg, 3)
		require.NoError(t, err, arg)
		assert.Equal(t, want, got.String(), arg)
	}
	for arg, msg := range map[string]string{"-3": "3 - 3 is 0; want 1 to 256", "+300": "want 1 to 256", "0x2": `COUNT "0x2"`, "many": `COUNT "many"`, "257": "out of range"} {
		_, err := scaleTarget(arg, 3)
		require.Error(t, err, arg)
		assert.Contains(t, err.Error(), msg, arg)
	}
}

func TestCLIScaleRefusesBadCountAndKeepsConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.toml")
	orig := "instances = 2 # two\nlisten = [\"127.0.0.1:9000\"]\n"
	require.NoError(t, os.WriteFile(path, []byte(orig), 0o644))
	code, _, errs := runCLI("scale", "-config", path, "-5")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "nothing was changed")
	b, _ := os.ReadFile(path)
	assert.Equal(t, orig, string(b))
}

func TestCLIImportPM2(t *testing.T) {
	dir := t.TempDir()
	eco := filepath.Join(dir, "ecosystem.json")
	require.NoError(t, os.WriteFile(eco, []byte(`{"apps": [{"name": "api", "script": "/srv/api/server", "instances": 3, "watch": true, "env": {"A": "1"}}]}`), 0o644))
	code, out, errs := runCLI("import-pm2", eco)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "instances = 3\n")
	assert.Contains(t, out, "script = \"/srv/api/server\"\n")
	assert.Contains(t, errs, "not imported: watch: no file watching")

	// -o writes the file, which check accepts; an existing one is kept.
	toml := filepath.Join(dir, "app.toml")
	code, _, errs = runCLI("import-pm2", "-o", toml, eco)
	require.Equal(t, 0, code, errs)
	code, out, _ = runCLI("check", "-config", toml)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "ok (3 instances")
	code, _, errs = runCLI("import-pm2", "-o", toml, eco)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "file exists")

	code, out, _ = runCLI("import-pm2", "-json", eco)
	require.Equal(t, 0, code)
	var im map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &im))
	assert.ElementsMatch(t, []string{"app", "toml", "unmapped", "notes"}, slices.Collect(maps.Keys(im)))

	code, _, errs = runCLI("import-pm2", filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "no such file")

	// Every app of a pm2 host, each an app of its own: -o a directory.
	appsDir := filepath.Join(dir, "apps.d")
	require.NoError(t, os.Mkdir(appsDir, 0o755))
	two := filepath.Join(dir, "two.json")
	require.NoError(t, os.WriteFile(two, []byte(`{"apps": [{"name": "API", "script": "/srv/api/server", "env": {"PORT": 9001}}, {"name": "web", "script": "/srv/web/server", "env": {"PORT": 9002}}]}`), 0o644))
	code, _, errs = runCLI("import-pm2", "-o", appsDir, two)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "wrote "+filepath.Join(appsDir, "api.toml")+` (pm2 app "API")`)
	assert.FileExists(t, filepath.Join(appsDir, "web.toml"))
	code, out, errs = runCLI("check", "-config", toml, "-apps", appsDir)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, filepath.Join(appsDir, "api.toml")+": ok (app api, 1 instances, listen 9001, socket shared)")
	code, _, errs = runCLI("import-pm2", "-o", appsDir, two)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "file exists\nnothing was written")

	// pm2's other forms: YAML, and JavaScript, which node evaluates.
	yml := filepath.Join(dir, "process.yml")
	require.NoError(t, os.WriteFile(yml, []byte("apps:\n  - name: api\n    script: /srv/api/server\n    instances: 3\n"), 0o644))
	code, out, errs = runCLI("import-pm2", yml)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "instances = 3\n")
	js := filepath.Join(dir, "ecosystem.config.js")
	require.NoError(t, os.WriteFile(js, []byte("module.exports = { apps: [{ name: 'api', script: '/srv/api/server', instances: 1 + 2 }] };\n"), 0o644))
	code, out, errs = runCLI("import-pm2", js)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "instances = 3\n")
}
