package units

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
)

// GuidesDir is where the package installs the runtime guides.
const GuidesDir = "/usr/share/doc/app/guides"

// settingNames are app.toml's top-level keys.
func settingNames() []string {
	var names []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	return names
}

// gunicornGraceful is gunicorn's own drain timeout, by default.
const gunicornGraceful = 30 * time.Second

// Advice is what a valid configuration may still get wrong, as `check`
// and `reload` say it: settings that ended up in [env], and what a known
// server needs that the configuration does not give it.
// ShareDir holds the package's runnable files: the Node.js reference
// worker (worker.js), the Python helper (python/).
const ShareDir = "/usr/share/app"

func (c Config) Advice() []string {
	var out []string
	names := settingNames()
	for _, k := range c.envNames() {
		if slices.Contains(names, k) {
			out = append(out, fmt.Sprintf("env.%s: %q is an app.toml setting, but it is in [env], where it only becomes an environment variable of the instances (every line after [env] belongs to it): move it above [env]", k, k))
		}
	}
	for _, p := range append([]string{string(c.Script)}, c.Args...) {
		if strings.HasPrefix(p, "/usr/share/doc/") {
			out = append(out, fmt.Sprintf("%s: nothing under /usr/share/doc may be needed to run (Debian Policy 12.3; a dpkg path-exclude drops it): the package's runnable files are in %s", p, ShareDir))
		}
	}
	prog := filepath.Base(c.Program())
	has := func(flag string) bool {
		for _, a := range c.Args {
			if a == flag || strings.HasPrefix(a, flag+"=") {
				return true
			}
		}
		return strings.Contains(c.Env["GUNICORN_CMD_ARGS"], flag)
	}
	kill := c.KillTimeout.Std()
	switch prog {
	case "uvicorn":
		out = append(out, fmt.Sprintf("uvicorn alone never says READY=1, so its start times out: run it under gunicorn with --worker-class app_cluster.UvicornWorker (%s/uvicorn.md)", GuidesDir))
	case "gunicorn":
		if c.ProbePath != "" {
			out = append(out, "probe_path: gunicorn serves only the sockets systemd passes, not the instance's probe socket, so the probe cannot reach it: remove probe_path (canary_uptime and min_uptime still watch the instances)")
		}
		if !has("--graceful-timeout") && gunicornGraceful >= kill {
			out = append(out, fmt.Sprintf("gunicorn drains within its own --graceful-timeout (%s by default), not less than kill_timeout (%s): systemd would kill it mid-drain; add \"--graceful-timeout\", \"%d\" to args", gunicornGraceful, kill, int(DrainTimeout(kill).Seconds())))
		}
	case "puma":
		for i, a := range c.Args {
			bind := ""
			switch {
			case (a == "-b" || a == "--bind") && i+1 < len(c.Args):
				bind = c.Args[i+1]
			case strings.HasPrefix(a, "--bind="):
				bind = strings.TrimPrefix(a, "--bind=")
			}
			if addr, ok := strings.CutPrefix(bind, "tcp://"); ok && !slices.Contains(c.SocketListen(), addr) {
				out = append(out, fmt.Sprintf("puma binds %s, which is not listen (%s): puma takes the socket systemd passes only when a bind names its address, and opens the others itself", bind, strings.Join(c.SocketListen(), ", ")))
			}
		}
	case "npm", "npx", "yarn", "pnpm":
		out = append(out, fmt.Sprintf("%s runs the app as its child, and SIGTERM goes to %s, not to the app (KillMode=mixed): the app never drains; run what its start script runs instead (script = \"/usr/bin/node\", args = [\"server.js\"])", prog, prog))
	}
	return out
}
