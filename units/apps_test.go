package units

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppNames(t *testing.T) {
	for _, ok := range []string{"api", "web-front", "a1", "shop2-eu"} {
		assert.NoError(t, CheckAppName(ok), ok)
	}
	for _, bad := range []string{"", "app", "API", "1api", "api-", "-api", "a--b", "a_b", "a.b", "a@b", "reload", "spare", strings.Repeat("a", 21)} {
		assert.ErrorIs(t, CheckAppName(bad), ErrAppName, bad)
	}
	api := AppCluster("api")
	assert.Equal(t, "app-api.socket", api.Socket())
	assert.Equal(t, "app-api@2.service", api.Instance(2))
	assert.Equal(t, "app-api-reload.service", api.ReloadUnit())
	assert.Equal(t, "/etc/app/apps.d/api.toml", api.ConfigPath())
	assert.Equal(t, "/run/app/probe-api/0/http.sock", api.ProbeSocket("0"))
	assert.Equal(t, "app-api-worker", api.Worker())
	assert.Equal(t, "app", App.AppName())
	assert.Equal(t, DefaultConfigPath, App.ConfigPath())
	assert.Equal(t, ProbeSocket("0"), App.ProbeSocket("0"))
	assert.Equal(t, "app-worker", App.Worker())
}

// The units another app gets are the package's, with every name its own.
func TestRenderUnit(t *testing.T) {
	api := AppCluster("api")
	leftover := regexp.MustCompile(`(^|[^\w./-])app(\.socket|\.target|-reload\.service|-rollout\.scope|-worker|@)`)
	for _, name := range shippedUnits {
		text, err := Files.ReadFile("systemd/" + name)
		require.NoError(t, err)
		assert.Equal(t, string(text), RenderUnit(App, string(text)), "the package's own app: as shipped")
		out := RenderUnit(api, string(text))
		assert.NotRegexp(t, leftover, out, "%s: a name of the package's app is left", name)
		assert.NotContains(t, out, DefaultConfigPath, name)
	}
	assert.Equal(t, "app-api@.service", RenderUnit(api, "app@.service"))
	tmpl, _ := Files.ReadFile("systemd/app@.service")
	out := RenderUnit(api, string(tmpl))
	for _, want := range []string{"Requires=app-api.socket", "Sockets=app-api.socket", "PartOf=app-api.target", "User=app-api-worker", "Description=app cluster api instance %i", "ExecCondition=+/usr/bin/app-reloader guard %n"} {
		assert.Contains(t, out, want)
	}
	reload, _ := Files.ReadFile("systemd/app-reload.service")
	out = RenderUnit(api, string(reload))
	assert.Contains(t, out, "ReloadPropagatedFrom=app-api.target")
	assert.Contains(t, out, "ExecReload=/usr/bin/app-reloader reload api\n")
	assert.Contains(t, out, "ExecStart=/bin/systemctl --no-block start app-api.target")
}

// Another app's units are written whole, enabled, and wanted as the
// package's are.
func TestGenerateAnotherApp(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Parse("api.toml", []byte("instances = 2\nlisten = [\"127.0.0.1:9001\"]\nscript = \"/usr/bin/node\"\nargs = [\"/srv/api/server.js\"]\n[env]\nTOKEN = \"s3cret\"\n"))
	require.NoError(t, err)
	cfg = cfg.Of(AppCluster("api"))
	require.NoError(t, Generate(cfg, "/etc/app/apps.d/api.toml", dir))
	for _, f := range []string{"app-api.socket", "app-api@.service", "app-api.target", "app-api-reload.service",
		"app-api.socket.d/" + DropIn, "app-api@.service.d/" + DropIn, "app-api@spare.service.d/" + SpareDropIn, "app-api@.service.d/50-app-toml.env"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	for link, to := range map[string]string{
		"app-api.target.wants/app-api@0.service": filepath.Join(dir, "app-api@.service"),
		"app-api.target.wants/app-api@1.service": filepath.Join(dir, "app-api@.service"),
		"multi-user.target.wants/app-api.target": filepath.Join(dir, "app-api.target"),
		"sockets.target.wants/app-api.socket":    filepath.Join(dir, "app-api.socket"),
	} {
		got, err := os.Readlink(filepath.Join(dir, link))
		require.NoError(t, err, link)
		assert.Equal(t, to, got, link)
	}
	sock, _ := os.ReadFile(filepath.Join(dir, "app-api.socket.d", DropIn))
	assert.Contains(t, string(sock), "ListenStream=127.0.0.1:9001\n")
	svc, _ := os.ReadFile(filepath.Join(dir, "app-api@.service.d", DropIn))
	assert.Contains(t, string(svc), "EnvironmentFile="+filepath.Join(dir, "app-api@.service.d/50-app-toml.env"))
	assert.Contains(t, string(svc), "Environment=APP_PROBE_SOCKET=/run/app/probe-api/%i/http.sock\n")
	assert.Contains(t, string(svc), "RuntimeDirectory=app/probe-api/%i\n")
	assert.NotContains(t, string(svc), "app@")
	fi, err := os.Stat(filepath.Join(dir, "app-api@.service.d/50-app-toml.env"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "its secrets: root's alone")

	same, diff, err := Generated(cfg, "/etc/app/apps.d/api.toml", dir)
	require.NoError(t, err)
	assert.True(t, same, diff)
	// The package's own app beside it changes nothing of it.
	require.NoError(t, Generate(Default(), DefaultConfigPath, dir))
	same, diff, err = Generated(cfg, "/etc/app/apps.d/api.toml", dir)
	require.NoError(t, err)
	assert.True(t, same, diff)
}

func TestAppsListsTheDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"web.toml", "api.toml", ".api.toml.swp", "notes.txt", "api.toml.dpkg-old"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o640))
	}
	apps, err := Apps(dir)
	require.NoError(t, err)
	assert.Equal(t, []Cluster{AppCluster("api"), AppCluster("web")}, apps)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Bad_Name.toml"), nil, 0o640))
	apps, err = Apps(dir)
	require.ErrorIs(t, err, ErrAppName)
	assert.Contains(t, err.Error(), "Bad_Name.toml")
	assert.Len(t, apps, 2, "the others still listed")
	apps, err = Apps(filepath.Join(dir, "none"))
	require.NoError(t, err)
	assert.Empty(t, apps)
}

func TestCheckAppsRefusesTheSameAddress(t *testing.T) {
	main := []byte("instances = 2\n")
	api := []byte("# the API\ninstances = 2\nlisten = [\n  \"127.0.0.1:9001\",\n  \"127.0.0.1:8080\",\n]\n")
	web := []byte("listen = [\"8080\"]\n")
	load := func(c Cluster, source string, data []byte) AppConfig {
		cfg, err := Parse(source, data)
		require.NoError(t, err)
		return AppConfig{Config: cfg.Of(c), Source: source}
	}
	texts := map[string][]byte{"/etc/app/app.toml": main, "/etc/app/apps.d/api.toml": api, "/etc/app/apps.d/web.toml": web}
	all := []AppConfig{load(App, "/etc/app/app.toml", main), load(AppCluster("api"), "/etc/app/apps.d/api.toml", api), load(AppCluster("web"), "/etc/app/apps.d/web.toml", web)}
	err := CheckApps(all, texts)
	require.ErrorIs(t, err, ErrConflict)
	assert.Contains(t, err.Error(), `/etc/app/apps.d/api.toml:5: listen "127.0.0.1:8080": /etc/app/app.toml (listen's default) already listens on "127.0.0.1:8080"`)
	assert.Contains(t, err.Error(), `/etc/app/apps.d/web.toml:1: listen "8080": /etc/app/app.toml (listen's default) already listens on "127.0.0.1:8080"`)
	assert.NoError(t, CheckApps(all[:1], texts))
	other := load(AppCluster("web"), "/etc/app/apps.d/web.toml", []byte("listen = [\"127.0.0.2:8080\", \"/run/web.sock\"]\n"))
	assert.NoError(t, CheckApps([]AppConfig{all[0], other}, texts), "another host or a path: no conflict")
}

func TestLoadApps(t *testing.T) {
	dir := t.TempDir()
	mainPath := filepath.Join(dir, "app.toml")
	apps := filepath.Join(dir, "apps.d")
	require.NoError(t, os.MkdirAll(apps, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(apps, "api.toml"), []byte("listen = [\"127.0.0.1:9001\"]\ninstances = 3\n"), 0o640))
	all, err := LoadApps(mainPath, apps)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, App, all[0].Config.Cluster(), "no app.toml: the package's defaults")
	assert.Equal(t, AppCluster("api"), all[1].Config.Cluster())
	assert.Equal(t, 3, all[1].Config.Count())

	require.NoError(t, os.WriteFile(filepath.Join(apps, "web.toml"), []byte("instances = \"many\"\n"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(apps, "dup.toml"), []byte("listen = [\"127.0.0.1:9001\"]\n"), 0o640))
	all, err = LoadApps(mainPath, apps)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(apps, "web.toml")+":1")
	assert.ErrorIs(t, err, ErrConflict)
	assert.Len(t, all, 3, "the apps that load are still listed")
}

// A bad or conflicting app is left out of what the generator writes; the
// others are generated.
func TestLoadAppsForGenerator(t *testing.T) {
	dir := t.TempDir()
	mainPath := filepath.Join(dir, "app.toml")
	apps := filepath.Join(dir, "apps.d")
	require.NoError(t, os.MkdirAll(apps, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(apps, "api.toml"), []byte("listen = [\"127.0.0.1:9001\"]\n"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(apps, "bad.toml"), []byte("instances = \"many\"\n"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(apps, "dup.toml"), []byte("listen = [\"127.0.0.1:8080\"]\n"), 0o640))
	got, problems := LoadAppsForGenerator(mainPath, filepath.Join(dir, "applied.toml"), apps)
	var names []string
	for _, a := range got {
		names = append(names, a.Config.Cluster().AppName())
	}
	assert.Equal(t, []string{"app", "api"}, names)
	require.Len(t, problems, 2)
	assert.Contains(t, problems[0].Error(), "app bad: ")
	assert.Contains(t, problems[1].Error(), "app dup is left out: ")
	assert.ErrorIs(t, problems[1], ErrConflict)
}

func TestImportPM2All(t *testing.T) {
	data, err := os.ReadFile("testdata/ecosystem.json")
	require.NoError(t, err)
	ims, err := ImportPM2All("ecosystem.json", data, PM2Options{Env: ""})
	require.NoError(t, err)
	require.Len(t, ims, 2)
	assert.Equal(t, "api", ims[0].Name)
	assert.Equal(t, "worker", ims[1].Name)
	assert.True(t, strings.HasPrefix(ims[0].TOML, "# /etc/app/apps.d/api.toml, imported from ecosystem.json (pm2 app \"api\")"), ims[0].TOML)
	for _, im := range ims {
		_, err := Parse(im.Name+".toml", []byte(im.TOML))
		assert.NoError(t, err, im.TOML)
	}

	for in, want := range map[string]string{"API Server": "api-server", "web_front": "web-front", "shop2": "shop2", "  EU / shop  ": "eu-shop"} {
		got, err := PM2AppName(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "2fast", "app", "@@@", strings.Repeat("x", 30)} {
		_, err := PM2AppName(bad)
		assert.ErrorIs(t, err, ErrPM2, bad)
	}
	_, err = ImportPM2All("eco.json", []byte(`{"apps": [{"name": "Web", "script": "/a"}, {"name": "web", "script": "/b"}]}`), PM2Options{})
	require.ErrorIs(t, err, ErrPM2)
	assert.Contains(t, err.Error(), `apps "Web" and "web" would both be web`)
}
