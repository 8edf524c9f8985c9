package units

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PM2Import is a pm2 ecosystem file translated into app.toml.
type PM2Import struct {
	// App is the pm2 name of the imported app.
	App string `json:"app"`
	// Name is the app's name on this host ([ImportPM2All]): its file is
	// AppsDir/Name.toml.
	Name string `json:"name,omitempty"`
	// TOML is the configuration, ready for /etc/app/app.toml; it passes
	// [Parse].
	TOML string `json:"toml"`
	// Unmapped are the keys that have no equivalent here, with why and
	// what to do instead.
	Unmapped []PM2Key `json:"unmapped"`
	// Notes are keys that were carried over with a change worth knowing.
	Notes []PM2Key `json:"notes"`
}

// PM2Key is one key of an ecosystem file and what became of it.
type PM2Key struct {
	Key string `json:"key"`
	Why string `json:"why"`
}

// ErrPM2 is wrapped by every error about an ecosystem file.
var ErrPM2 = errors.New("cannot import the pm2 ecosystem file")

// NodePath is where Debian's nodejs package puts node.
const NodePath = "/usr/bin/node"

// pm2Unmapped are the pm2 app keys with no equivalent, and what to do
// instead.
var pm2Unmapped = map[string]string{
	"watch":                     "no file watching: deploy the new release, then run app-reloader reload (installing a newer .deb does it)",
	"ignore_watch":              "no file watching (see watch)",
	"watch_options":             "no file watching (see watch)",
	"watch_delay":               "no file watching (see watch)",
	"log_file":                  "logs go to the journal: app-reloader logs (rotation and retention are journald's)",
	"out_file":                  "logs go to the journal: app-reloader logs",
	"error_file":                "logs go to the journal: app-reloader logs (stderr lines carry priority 3)",
	"output":                    "logs go to the journal: app-reloader logs",
	"error":                     "logs go to the journal: app-reloader logs",
	"log":                       "logs go to the journal: app-reloader logs",
	"combine_logs":              "the journal already merges the instances: app-reloader logs",
	"merge_logs":                "the journal already merges the instances: app-reloader logs",
	"log_date_format":           "the journal stamps every line: journalctl -o short-iso",
	"log_type":                  "the journal keeps structured fields: app-reloader logs --json",
	"disable_logs":              "logs go to the journal; a drop-in with StandardOutput=null silences them",
	"pid_file":                  "systemd tracks each instance's main PID: app-reloader status",
	"cron_restart":              "use a systemd timer (OnCalendar=) that runs app-reloader reload",
	"restart_delay":             "systemd restarts a crashed instance after RestartSec= (a drop-in for app@.service)",
	"exp_backoff_restart_delay": "systemd restarts a crashed instance after RestartSec= (systemd 254 adds RestartSteps=); the crash-loop guard (max_restarts) stops a loop",
	"gid":                       "the instances run with the primary group of user",
	"instance_var":              "each instance gets its number in APP_INSTANCE (NODE_APP_INSTANCE is pm2's own)",
	"increment_var":             "the instances share one socket: there is no per-instance port to increment",
	"shutdown_with_message":     "instances are stopped with SIGTERM, then SIGKILL after kill_timeout",
	"stop_exit_codes":           "SuccessExitStatus= in a drop-in for app@.service",
	"force":                     "systemd runs exactly the configured instances",
	"namespace":                 "one cluster per package: app@0 … app@N-1",
	"vizion":                    "no version-control metadata: the release is the installed package (dpkg -s app)",
	"post_update":               "run it before packaging the release",
	"source_map_support":        "pass --enable-source-maps in node_args instead",
	"append_env_name":           "the instances are app@0 … app@N-1",
	"treekill":                  "systemd always stops the whole control group of an instance (KillMode=)",
	"time":                      "the journal stamps every line",
	"automation":                "no pm2.io agent",
	"pmx":                       "no pm2.io agent",
	"filter_env":                "the instances get only the environment in env (and systemd's own variables)",
	"vizion_running":            "no version-control metadata",
	"cron":                      "use a systemd timer (OnCalendar=) that runs app-reloader reload",
	"max_restarts_reset":        "the crash-loop guard counts restarts within a minute",
	"listen_address":            "set listen",
	"port":                      "set listen",
	"version":                   "the release is the installed package (dpkg -s app)",
	"combine_log":               "logs go to the journal: app-reloader logs",
}

// pm2App is the subset of an app the importer reads; the rest is kept as
// raw JSON to report.
type pm2App map[string]json.RawMessage

// PM2Options say which app of an ecosystem file to import, and how to find
// its program on this machine.
type PM2Options struct {
	// App picks the app by its pm2 name when the file has several.
	App string
	// Env, if set, merges env_<Env> over env, as `pm2 start --env <Env>`
	// does.
	Env string
	// LookPath finds a bare program name ("gunicorn", "npm") on PATH, as
	// pm2 does; nil finds nothing.
	LookPath func(name string) (string, error)
	// IsFile tells whether a file exists; nil: none does. A bare script
	// name is first looked for in cwd, as pm2 does.
	IsFile func(path string) bool
}

// ImportPM2 translates an app of a pm2 ecosystem file in JSON form (an
// object with "apps", a list of apps, or one app) into app.toml ([PM2Data]
// reads the YAML and JavaScript forms into it).
func ImportPM2(name string, data []byte, o PM2Options) (PM2Import, error) {
	appName := o.App
	fail := func(format string, a ...any) (PM2Import, error) {
		return PM2Import{}, fmt.Errorf("%s: %s: %w", name, fmt.Sprintf(format, a...), ErrPM2)
	}
	apps, top, err := pm2Apps(data)
	if err != nil {
		return fail("%v", err)
	}
	if err := controlKeys(data); err != nil {
		return fail("%v", err)
	}
	var app pm2App
	var names []string
	for _, a := range apps {
		n := stringOf(a["name"])
		names = append(names, strconv.Quote(n))
		if appName == "" || n == appName {
			if app != nil && appName == "" {
				return fail("%d apps (%s): choose one with --app NAME, or write each to an app of its own with --output DIR (such as /etc/app/apps.d)", len(apps), strings.Join(names, ", ")+"…")
			}
			if app == nil {
				app = a
			}
		}
	}
	if app == nil {
		if appName != "" {
			return fail("no app named %q (apps: %s)", appName, strings.Join(names, ", "))
		}
		return fail("no app in the file")
	}
	im := &importer{app: app, env: o.Env, opts: o}
	for _, k := range top {
		if k == "deploy" {
			im.skip(k, "pm2 deploy: build a .deb of the release and apt install it, which rolls the cluster (README: Coming from pm2)")
		} else {
			im.skip(k, "not a pm2 option this importer knows")
		}
	}
	return im.run(name)
}

// ImportPM2All translates every app of an ecosystem file, each into the
// configuration of an app of its own (AppsDir/NAME.toml), named after its
// pm2 name ([PM2AppName]); o.App is ignored.
func ImportPM2All(name string, data []byte, o PM2Options) ([]PM2Import, error) {
	apps, _, err := pm2Apps(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, ErrPM2)
	}
	var out []PM2Import
	seen := map[string]string{}
	var errs []error
	for i, a := range apps {
		pm2Name := stringOf(a["name"])
		app, err := PM2AppName(pm2Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: app %d: %w", name, i+1, err))
			continue
		}
		if other, dup := seen[app]; dup {
			errs = append(errs, fmt.Errorf("%s: apps %q and %q would both be %s: %w", name, other, pm2Name, app, ErrPM2))
			continue
		}
		seen[app] = pm2Name
		one := o
		one.App = pm2Name
		// The app alone, so that ImportPM2 picks it whatever the others.
		single, _ := json.Marshal(a)
		im, err := ImportPM2(name, single, one)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		im.Name = app
		im.TOML = strings.Replace(im.TOML, "# /etc/app/app.toml, imported", "# "+AppCluster(app).ConfigPath()+", imported", 1)
		out = append(out, im)
	}
	return out, errors.Join(errs...)
}

// PM2AppName is the app name a pm2 app's name becomes: lower case, with
// dashes for what an app name may not hold ("API server" → api-server).
func PM2AppName(pm2Name string) (string, error) {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(pm2Name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	name := b.String()
	if err := CheckAppName(name); err != nil {
		return "", fmt.Errorf("pm2 name %q: %w; rename it in the ecosystem file: %w", pm2Name, err, ErrPM2)
	}
	return name, nil
}

// pm2Apps reads the apps of an ecosystem file, and the names of its other
// top-level keys.
func pm2Apps(data []byte) ([]pm2App, []string, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil, errors.New("empty file")
	}
	if data[0] == '[' {
		var apps []pm2App
		if err := json.Unmarshal(data, &apps); err != nil {
			return nil, nil, jsonError(err)
		}
		return apps, nil, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		if bytes.HasPrefix(data, []byte("module.exports")) {
			return nil, nil, errors.New("this is the JavaScript form: name it .js so that node evaluates it, or print it as JSON first, e.g. node -e 'console.log(JSON.stringify(require(\"./ecosystem.config.js\")))' > ecosystem.json")
		}
		return nil, nil, jsonError(err)
	}
	raw, ok := top["apps"]
	if !ok {
		if _, isApp := top["script"]; isApp {
			return []pm2App{top}, nil, nil
		}
		return nil, nil, errors.New(`want {"apps": [...]}, a list of apps, or one app with "script"`)
	}
	var apps []pm2App
	if err := json.Unmarshal(raw, &apps); err != nil {
		return nil, nil, fmt.Errorf("apps: %w", jsonError(err))
	}
	var others []string
	for k := range top {
		if k != "apps" {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	return apps, others, nil
}

// controlKeys refuses a key name, at any depth, that holds a control
// character: the import lists the keys it cannot map in comments of the
// file it writes, where a line break would start a setting of its own.
// Values reach app.toml as TOML strings, which [Parse] checks.
func controlKeys(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return jsonError(err)
	}
	var walk func(path string, v any) error
	walk = func(path string, v any) error {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if err := checkText(k); err != nil {
					return fmt.Errorf("key %q%s: %w", k, path, err)
				}
				if err := walk(" in "+strconv.Quote(k)+path, x); err != nil {
					return err
				}
			}
		case []any:
			for _, x := range v {
				if err := walk(path, x); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("", v)
}

func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not JSON at byte %d: %v", se.Offset, err)
	}
	return fmt.Errorf("not a pm2 ecosystem file: %v", err)
}

type importer struct {
	app      pm2App
	env      string
	opts     PM2Options
	program  string        // what script became
	args     []string      // and args
	kill     time.Duration // kill_timeout, if set
	lines    []string      // key = value lines of app.toml, in order
	envLines []string
	unmapped []PM2Key
	notes    []PM2Key
	errs     []error
}

func (im *importer) note(key, why string)  { im.notes = append(im.notes, PM2Key{key, why}) }
func (im *importer) skip(key, why string)  { im.unmapped = append(im.unmapped, PM2Key{key, why}) }
func (im *importer) set(key, value string) { im.lines = append(im.lines, key+" = "+value) }
func (im *importer) bad(key string, raw json.RawMessage, want string) {
	im.errs = append(im.errs, fmt.Errorf("%s: %s: want %s", key, raw, want))
}

func (im *importer) run(name string) (PM2Import, error) {
	a := im.app
	out := PM2Import{App: stringOf(a["name"])}
	handled := map[string]bool{"name": true}
	take := func(k string) (json.RawMessage, bool) {
		handled[k] = true
		v, ok := a[k]
		return v, ok && string(v) != "null"
	}

	im.instances(take)
	im.command(take)
	if v, ok := take("cwd"); ok {
		if s, ok := str(v); ok && path.IsAbs(s) {
			im.set("cwd", tomlString(path.Clean(s)))
		} else {
			im.bad("cwd", v, "an absolute path")
		}
	}
	for _, k := range []string{"listen_timeout", "kill_timeout", "min_uptime"} {
		if v, ok := take(k); ok {
			im.duration(k, v)
		}
	}
	if v, ok := take("max_memory_restart"); ok {
		s, isStr := str(v)
		if !isStr {
			s = string(v)
		}
		if m := strings.ToUpper(s); memorySize.MatchString(m) {
			im.set("max_memory_restart", tomlString(m))
		} else {
			im.bad("max_memory_restart", v, `bytes or a size such as "300M"`)
		}
	}
	if v, ok := take("max_restarts"); ok {
		if n, err := strconv.Atoi(string(v)); err == nil && n >= 0 {
			im.set("max_restarts", strconv.Itoa(n))
			im.note("max_restarts", "here: restarts after failures within one minute before the crash-loop guard keeps the instance down (pm2: unstable restarts in a row)")
		} else {
			im.bad("max_restarts", v, "a number")
		}
	}
	if v, ok := take("uid"); ok {
		if s, ok := str(v); ok && s != "" {
			im.set("user", tomlString(s))
		} else {
			im.bad("uid", v, "a user name")
		}
	}
	if v, ok := take("wait_ready"); ok && string(v) == "true" {
		im.note("wait_ready", `every instance is waited for: it must send READY=1 (sd_notify) instead of process.send("ready"); see /usr/share/app/worker.js`)
	}
	if v, ok := take("autorestart"); ok && string(v) == "false" {
		im.skip("autorestart", "instances are always restarted on failure (Restart=on-failure); a drop-in with Restart=no turns it off")
	}
	if v, ok := take("exec_mode"); ok {
		switch s, _ := str(v); s {
		case "cluster", "cluster_mode":
		case "fork", "fork_mode":
			im.note("exec_mode", "every instance is started like a cluster worker: it takes the shared socket systemd passes as fd 3")
		default:
			im.bad("exec_mode", v, `"cluster" or "fork"`)
		}
	}
	im.environment(take)
	im.killTimeoutNotes()

	var keys []string
	for k := range a {
		if !handled[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch why, known := pm2Unmapped[k]; {
		case known:
			im.skip(k, why)
		case strings.HasPrefix(k, "env_"):
			im.skip(k, fmt.Sprintf("another environment: import with --env %s to use it", strings.TrimPrefix(k, "env_")))
		default:
			im.skip(k, "not a pm2 option this importer knows")
		}
	}
	if len(im.errs) > 0 {
		return PM2Import{}, fmt.Errorf("%s: app %q: %w: %w", name, out.App, errors.Join(im.errs...), ErrPM2)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# /etc/app/app.toml, imported from %s (pm2 app %q) by app-reloader import-pm2.\n", path.Base(name), out.App)
	b.WriteString("# Check it with `app-reloader check`, apply it with `app-reloader reload`.\n")
	if len(im.unmapped) > 0 {
		b.WriteString("#\n# Not imported:\n")
		for _, u := range im.unmapped {
			fmt.Fprintf(&b, "#   %s: %s\n", u.Key, u.Why)
		}
	}
	b.WriteString("\n")
	b.WriteString(strings.Join(im.lines, "\n"))
	b.WriteString("\n")
	if len(im.envLines) > 0 {
		b.WriteString("\n# The instances' environment, as env.NAME: read by root only (EnvironmentFile=).\n")
		for _, l := range im.envLines {
			b.WriteString(l + "\n")
		}
	}
	out.TOML, out.Unmapped, out.Notes = b.String(), im.unmapped, im.notes
	if _, err := Parse("imported "+path.Base(name), []byte(out.TOML)); err != nil {
		return PM2Import{}, fmt.Errorf("%s: app %q: the translation does not validate: %w: %w", name, out.App, err, ErrPM2)
	}
	return out, nil
}

func (im *importer) instances(take func(string) (json.RawMessage, bool)) {
	v, ok := take("instances")
	if !ok {
		im.set("instances", "1")
		im.note("instances", "not set: pm2 runs 1 instance, so does this; app's own default is one per CPU")
		return
	}
	s, isStr := str(v)
	if !isStr {
		s = string(v)
	}
	switch n, err := strconv.Atoi(s); {
	case s == "max" || n == 0 && err == nil:
		im.set("instances", `"auto"`)
	case err == nil && n < 0:
		im.set("instances", `"auto"`)
		im.note("instances", fmt.Sprintf("%d (all CPUs but %d) became \"auto\": one per CPU, at least 2", n, -n))
	case err == nil && n <= MaxInstances:
		im.set("instances", strconv.Itoa(n))
	default:
		im.bad("instances", v, fmt.Sprintf("a number up to %d or \"max\"", MaxInstances))
	}
}

// interpreters are what pm2 runs a script with, by its extension.
var interpreters = map[string]string{".js": NodePath, ".cjs": NodePath, ".mjs": NodePath, ".py": "/usr/bin/python3", ".sh": "/bin/bash", ".rb": "/usr/bin/ruby", ".pl": "/usr/bin/perl", ".php": "/usr/bin/php"}

// command sets script and args: pm2's interpreter, interpreter args,
// script and args become one program and its arguments.
func (im *importer) command(take func(string) (json.RawMessage, bool)) {
	v, ok := take("script")
	script, isStr := str(v)
	if !ok || !isStr || script == "" {
		im.bad("script", v, "the program or script to run")
		return
	}
	cwd := ""
	if c, ok := im.app["cwd"]; ok {
		cwd, _ = str(c)
	}
	script, ok = im.resolveScript(v, script, cwd)
	if !ok {
		return
	}
	var args []string
	if a, ok := take("args"); ok {
		args = im.argList("args", a)
	}
	var pre []string
	for _, k := range []string{"node_args", "interpreter_args"} {
		if a, ok := take(k); ok {
			pre = append(pre, im.argList(k, a)...)
		}
	}
	interp := interpreters[path.Ext(script)]
	if v, ok := take("interpreter"); ok {
		s, _ := str(v)
		switch {
		case s == "none":
			interp = ""
		case s == "":
			im.bad("interpreter", v, "a program")
		case path.IsAbs(s):
			interp = s
		case s == "node" || s == "nodejs":
			interp = NodePath
		default:
			if found, err := im.lookPath(s); err == nil {
				interp = found
			} else {
				interp = "/usr/bin/" + s
				im.note("interpreter", fmt.Sprintf("%q is not on PATH here: it became %s; write its absolute path if it lives elsewhere", s, interp))
			}
		}
	}
	program := script
	if interp != "" {
		program = interp
		args = append(append(pre, script), args...)
	} else if len(pre) > 0 {
		im.skip("node_args", "no interpreter to pass them to")
	}
	im.set("script", tomlString(program))
	if len(args) > 0 {
		im.set("args", tomlArray(args))
	}
	im.program, im.args = program, args
	im.runtimeNotes(program, args)
}

// resolveScript finds the script as pm2 does: an absolute path as it is;
// otherwise the file in cwd, or, for a bare program name, on PATH.
func (im *importer) resolveScript(raw json.RawMessage, script, cwd string) (string, bool) {
	if path.IsAbs(script) {
		return path.Clean(script), true
	}
	inCwd := ""
	if path.IsAbs(cwd) {
		inCwd = path.Join(cwd, script)
		if im.isFile(inCwd) {
			return inCwd, true
		}
	}
	bare := !strings.Contains(script, "/")
	if bare {
		if found, err := im.lookPath(script); err == nil {
			im.note("script", fmt.Sprintf("%q: found on PATH as %s, as pm2 finds it", script, found))
			return found, true
		}
	}
	switch {
	case inCwd != "" && (!bare || interpreters[path.Ext(script)] != ""):
		// The app's own file, perhaps not deployed on this machine yet.
		im.note("script", fmt.Sprintf("%s is not on this machine: check the path before applying", inCwd))
		return inCwd, true
	case inCwd != "":
		im.bad("script", raw, fmt.Sprintf("a program: %q is neither in %s nor on PATH here; install it, or write its absolute path", script, cwd))
	default:
		im.bad("script", raw, "an absolute path, a program on PATH, or a cwd to resolve it against")
	}
	return "", false
}

func (im *importer) lookPath(name string) (string, error) {
	if im.opts.LookPath == nil {
		return "", errors.New("no PATH lookup")
	}
	found, err := im.opts.LookPath(name)
	if err == nil && !path.IsAbs(found) {
		return "", fmt.Errorf("%s: not an absolute path", found)
	}
	return found, err
}

func (im *importer) isFile(p string) bool { return im.opts.IsFile != nil && im.opts.IsFile(p) }

// runtimeNotes says what a known runtime needs under app that it did not
// under pm2.
func (im *importer) runtimeNotes(program string, args []string) {
	switch path.Base(program) {
	case "node", "nodejs":
		im.note("script", "a Node app must take the socket systemd passes (fd 3) instead of listening itself, and send READY=1: the app-cluster helper does both in one line, require('/usr/share/nodejs/app-cluster').serve(app) (docs/guides/node.md)")
		im.note("kill_signal", "pm2 stops an app with SIGINT, app with SIGTERM: a process.on('SIGINT') drain must listen for SIGTERM too (the helper does)")
	case "npm", "yarn", "pnpm":
		im.note("script", path.Base(program)+" runs the app as its child, and the drain's SIGTERM goes to it, not to the app (KillMode=mixed): write the command its start script runs instead, such as script = \"/usr/bin/node\", args = [\"server.js\"]")
	case "gunicorn":
		im.note("script", "gunicorn takes the passed socket itself and says READY=1; --bind is ignored under app (docs/guides/gunicorn.md)")
	case "uvicorn":
		im.note("script", "uvicorn alone never says READY=1: run it under gunicorn, --worker-class app_cluster.UvicornWorker (docs/guides/uvicorn.md)")
	case "puma":
		im.note("script", "puma takes the passed socket when a bind names the same address as listen, and says READY=1 with ruby-sd-notify installed (docs/guides/puma.md)")
	}
}

func (im *importer) argList(key string, v json.RawMessage) []string {
	if s, ok := str(v); ok {
		if strings.ContainsAny(s, `"'\`) {
			im.bad(key, v, "a list of arguments (a string with quotes is ambiguous)")
			return nil
		}
		return strings.Fields(s)
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		im.bad(key, v, "a string or a list of strings")
	}
	return list
}

func (im *importer) duration(key string, v json.RawMessage) {
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n >= 0 {
		// pm2 writes milliseconds; so does app.toml.
		if key != "min_uptime" && n < 1000 {
			im.note(key, fmt.Sprintf("%dms became 1000: the least app takes", n))
			n = 1000
		}
		im.set(key, strconv.FormatInt(n, 10))
		if key == "kill_timeout" {
			im.kill = time.Duration(n) * time.Millisecond
		}
		return
	}
	s, _ := str(v)
	// pm2 also takes "1h", "30m", "5s"; Go durations read the same.
	var d Duration
	if err := d.UnmarshalTOML(s); err != nil {
		im.bad(key, v, "milliseconds or a duration such as \"30s\"")
		return
	}
	im.set(key, tomlString(s))
	if key == "kill_timeout" {
		im.kill = d.Std()
	}
}

// pm2DefaultKillTimeout is how long pm2 waits after SIGINT before SIGKILL.
const pm2DefaultKillTimeout = 1600 * time.Millisecond

// gracefulFlags are servers' own drain timeouts, by program, with their
// defaults: the server stops draining at whichever ends first, its own
// timeout or systemd's SIGKILL at kill_timeout.
var gracefulFlags = map[string]struct {
	flag string
	def  time.Duration
}{
	"gunicorn": {"--graceful-timeout", 30 * time.Second},
	"puma":     {"worker_shutdown_timeout (config/puma.rb)", 30 * time.Second},
}

// killTimeoutNotes says what kill_timeout becomes: systemd's stop timeout,
// and the drain time the worker reads; and when the server has its own.
func (im *importer) killTimeoutNotes() {
	kill := im.kill
	if kill == 0 {
		kill = Default().KillTimeout.Std()
		im.note("kill_timeout", fmt.Sprintf("not set: pm2 kills after %s, app after %s (its default), which a drain under load needs", pm2DefaultKillTimeout, kill))
	} else {
		im.note("kill_timeout", fmt.Sprintf("%s from SIGTERM to SIGKILL (TimeoutStopSec=); the app-cluster helper and app's reference worker drain within %s of it (APP_DRAIN_TIMEOUT, which the unit sets)", kill, DrainTimeout(kill)))
	}
	g, ok := gracefulFlags[path.Base(im.program)]
	if !ok {
		return
	}
	set := false
	for _, a := range im.args {
		if strings.HasPrefix(a, g.flag) {
			set = true
		}
	}
	if !set && g.def >= kill {
		im.note("kill_timeout", fmt.Sprintf("%s drains within its own %s, %s by default, which is not less than kill_timeout (%s): systemd would kill it mid-drain; set it below, to %s", path.Base(im.program), g.flag, g.def, kill, DrainTimeout(kill)))
	}
}

func (im *importer) environment(take func(string) (json.RawMessage, bool)) {
	env := map[string]string{}
	merge := func(key string, raw json.RawMessage) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			im.bad(key, raw, "an object of variables")
			return
		}
		for k, v := range m {
			if s, ok := str(v); ok {
				env[k] = s
				continue
			}
			switch v[0] {
			case '{', '[':
				im.skip(key+"."+k, "not a string, number or boolean")
			default:
				env[k] = string(v) // a number or a boolean, as Node would see it
			}
		}
	}
	if v, ok := take("env"); ok {
		merge("env", v)
	}
	if im.env != "" {
		k := "env_" + im.env
		v, ok := take(k)
		if !ok {
			im.errs = append(im.errs, fmt.Errorf("-env %s: the app has no %s", im.env, k))
			return
		}
		merge(k, v)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Dotted keys (env.NAME = …), not an [env] table at the end: a setting
	// appended to the file later is still a setting, not a variable.
	for _, k := range keys {
		if !envName.MatchString(k) {
			im.skip("env."+k, "not a variable name systemd passes on (letters, digits and _, not first a digit)")
			continue
		}
		im.envLines = append(im.envLines, "env."+k+" = "+tomlString(env[k]))
	}
	if p, ok := env["PORT"]; ok {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			im.set("listen", tomlArray([]string{p}))
			im.note("env.PORT", fmt.Sprintf("became listen = [%q]: app.socket listens on port %s on every address, as server.listen(%s) did (write \"127.0.0.1:%s\" to keep it local)", p, p, p, p))
		}
	}
}

func stringOf(v json.RawMessage) string {
	s, _ := str(v)
	return s
}

func str(v json.RawMessage) (string, bool) {
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlArray(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
