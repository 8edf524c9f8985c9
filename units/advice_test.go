package units

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdvice(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"a setting appended after [env]", "script = \"/usr/bin/app\"\n[env]\nAPP_VERSION = \"1\"\nkill_timeout = \"60s\"\n", `env.kill_timeout: "kill_timeout" is an app.toml setting, but it is in [env]`},
		{"uvicorn alone", "script = \"/usr/bin/uvicorn\"\nargs = [\"--fd\", \"3\", \"main:app\"]\n", "uvicorn alone never says READY=1"},
		{"gunicorn and a probe", "script = \"/usr/bin/gunicorn\"\nargs = [\"--graceful-timeout\", \"25\", \"app:app\"]\nprobe_path = \"/\"\n", "the probe cannot reach it"},
		{"gunicorn's drain", "script = \"/usr/bin/gunicorn\"\nargs = [\"app:app\"]\nkill_timeout = \"10s\"\n", `add "--graceful-timeout", "9" to args`},
		{"puma elsewhere", "listen = [\"127.0.0.1:8080\"]\nscript = \"/usr/bin/puma\"\nargs = [\"-b\", \"tcp://0.0.0.0:3000\"]\n", "puma binds tcp://0.0.0.0:3000, which is not listen (127.0.0.1:8080)"},
		{"npm start", "script = \"/usr/bin/npm\"\nargs = [\"start\"]\n", "npm runs the app as its child"},
		{"a worker under /usr/share/doc", "script = \"/usr/bin/node\"\nargs = [\"/usr/share/doc/app/examples/worker.js\"]\n", "/usr/share/doc/app/examples/worker.js: nothing under /usr/share/doc may be needed to run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("app.toml", []byte(tc.toml))
			require.NoError(t, err)
			assert.Contains(t, strings.Join(cfg.Advice(), "\n"), tc.want)
		})
	}
	// What the guides write gets no advice.
	for _, toml := range []string{
		"script = \"/usr/bin/gunicorn\"\nargs = [\"--workers\", \"2\", \"--preload\", \"--graceful-timeout\", \"25\", \"hello:app\"]\nkill_timeout = \"30s\"\n[env]\nAPP_VERSION = \"1\"\n",
		"script = \"/usr/bin/puma\"\nargs = [\"--config\", \"config/puma.rb\"]\nprobe_path = \"/\"\n",
		"script = \"/usr/bin/node\"\nargs = [\"/srv/hello/server.js\"]\nprobe_path = \"/\"\n",
	} {
		cfg, err := Parse("app.toml", []byte(toml))
		require.NoError(t, err)
		assert.Empty(t, cfg.Advice(), toml)
	}
}

// node run through env, or npm, still gets writable and executable memory.
func TestDenyWriteExecuteSeesThroughEnv(t *testing.T) {
	for toml, deny := range map[string]bool{
		"script = \"/usr/bin/env\"\nargs = [\"NODE_ENV=production\", \"node\", \"server.js\"]\n": false,
		"script = \"/usr/bin/npm\"\nargs = [\"start\"]\n":                                        false,
		"script = \"/usr/bin/env\"\nargs = [\"python3\", \"app.py\"]\n":                          true,
	} {
		cfg, err := Parse("app.toml", []byte(toml))
		require.NoError(t, err)
		assert.Equal(t, deny, cfg.DenyWriteExecute(), toml)
	}
}

// TestManPageCoversEveryKey: app.toml(5) documents every key the parser
// takes.
func TestManPageCoversEveryKey(t *testing.T) {
	b, err := os.ReadFile("../packaging/man/app.toml.5")
	require.NoError(t, err)
	man := strings.ReplaceAll(string(b), `\-`, "-")
	for _, k := range settingNames() {
		assert.Contains(t, man, "\n.B "+k+"\n", "app.toml(5): key %s", k)
	}
}
