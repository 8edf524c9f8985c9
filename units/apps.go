package units

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// AppsDir holds the configuration of each app besides the package's own:
// NAME.toml, the same keys as app.toml, for the units app-NAME.socket,
// app-NAME@.service, app-NAME.target and app-NAME-reload.service, which
// app-generator writes. Files here are the operator's, not the package's:
// no upgrade asks about them, and `scale` may rewrite them.
const AppsDir = "/etc/app/apps.d"

// MaxAppName is the longest app name: its dynamic user, app-NAME-worker,
// must fit in 31 characters.
const MaxAppName = 20

var appName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// reservedApps are names an app may not take: the package's own, and
// names its units use.
var reservedApps = []string{"app", "all", "reload", "rollout", "spare"}

// ErrAppName is wrapped by every refusal of an app's name.
var ErrAppName = errors.New("not an app name")

// CheckAppName says why name cannot name an app, if it cannot.
func CheckAppName(name string) error {
	switch {
	case len(name) > MaxAppName:
		return fmt.Errorf("app %q: at most %d characters: %w", name, MaxAppName, ErrAppName)
	case !appName.MatchString(name):
		return fmt.Errorf("app %q: lower-case letters, digits and inner dashes, starting with a letter: %w", name, ErrAppName)
	case slices.Contains(reservedApps, name):
		return fmt.Errorf("app %q: a name app keeps for itself: %w", name, ErrAppName)
	}
	return nil
}

// AppCluster is the cluster of the app in AppsDir/name.toml.
func AppCluster(name string) Cluster { return Cluster{Name: "app-" + name, App: name} }

// Main reports whether c is the package's own app.
func (c Cluster) Main() bool { return c.Name == "" || c.Name == App.Name }

// AppName is the app's name as commands take it.
func (c Cluster) AppName() string {
	if c.Main() {
		return App.App
	}
	return c.App
}

// ConfigPath is the app's configuration file.
func (c Cluster) ConfigPath() string {
	if c.Main() {
		return DefaultConfigPath
	}
	return filepath.Join(AppsDir, c.App+".toml")
}

// AppliedConfigPath is where a rollout keeps a copy of the configuration
// it applied (see [AppliedPath]).
func (c Cluster) AppliedConfigPath() string {
	if c.Main() {
		return AppliedPath
	}
	return filepath.Join(filepath.Dir(AppliedPath), "apps", c.App+".applied.toml")
}

// ProbeDir holds the app's instances' probe directories.
func (c Cluster) ProbeDir() string {
	if c.Main() {
		return ProbeDir
	}
	return RuntimeDir + "/probe-" + c.App
}

// ProbeSocket is the probe socket of one of the app's instances.
func (c Cluster) ProbeSocket(instance string) string {
	return c.ProbeDir() + "/" + instance + "/" + ProbeSocketName
}

// ClusterSocket is what the app's shared socket listens on with socket =
// "reuseport" (see [ClusterSocket]).
func (c Cluster) ClusterSocket() string {
	if c.Main() {
		return ClusterSocket
	}
	return RuntimeDir + "/cluster-" + c.App + ".sock"
}

// EnvFile is the app's environment file, beside its template's drop-in in
// the generator's directory.
func (c Cluster) EnvFile() string {
	return filepath.Join(c.orMain().Template()+".d", "50-app-toml.env")
}

// Worker is the dynamic user the app's instances run as (unless `user`):
// each app its own, so that one app cannot read another's files.
func (c Cluster) Worker() string { return c.orMain().Name + "-worker" }

func (c Cluster) orMain() Cluster {
	if c.Name == "" {
		return App
	}
	return c
}

// Of is cfg as the configuration of app c.
func (cfg Config) Of(c Cluster) Config {
	cfg.cluster = c
	return cfg
}

// Cluster is the app cfg configures.
func (cfg Config) Cluster() Cluster { return cfg.cluster.orMain() }

// unitToken: a name the shipped unit files give the package's own app.
var unitToken = regexp.MustCompile(`(^|[^\w./-])app(\.socket|\.target|-reload\.service|-rollout\.scope|-worker|@)`)

// RenderUnit is a unit file the package ships for its own app, rewritten
// for app c: every unit name, the dynamic user, the rollout command and
// the configuration file become c's. For [App] it is the file as shipped.
func RenderUnit(c Cluster, text string) string {
	if c.Main() {
		return text
	}
	text = unitToken.ReplaceAllString(text, "${1}"+c.Name+"${2}")
	r := strings.NewReplacer(
		"ExecReload=/usr/bin/app-reloader reload\n", "ExecReload=/usr/bin/app-reloader reload "+c.App+"\n",
		"Description=app cluster", "Description=app cluster "+c.App,
		DefaultConfigPath, c.ConfigPath(),
		"RuntimeDirectory=app/probe/", "RuntimeDirectory="+strings.TrimPrefix(c.ProbeDir(), "/run/")+"/",
	)
	return r.Replace(text)
}

// shippedUnits are the unit files [RenderUnit] rewrites for each app.
var shippedUnits = []string{"app.socket", "app@.service", "app.target", "app-reload.service"}

// AppConfig is one app's configuration, as loaded.
type AppConfig struct {
	Config Config
	// Source is the file it was read from (the applied copy, when the
	// file does not validate and the generator fell back to it).
	Source string
	// Fallback says why Source is the applied copy, if it is.
	Fallback string
}

// Apps lists the apps configured in dir (AppsDir), by name; files whose
// names are not app names are refused.
func Apps(dir string) ([]Cluster, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	var apps []Cluster
	var errs []error
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue // editors' backups, dpkg's leftovers
		}
		if err := CheckAppName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(dir, e.Name()), err))
			continue
		}
		apps = append(apps, AppCluster(name))
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].App < apps[j].App })
	return apps, errors.Join(errs...)
}

// ErrConflict is wrapped when two apps claim the same address.
var ErrConflict = errors.New("apps conflict")

// claim is an address an app listens on, where.
type claim struct {
	addr, where string
}

// claims are the addresses cfg listens on, each with the file:line that
// names it (or the file, for the default).
func claims(cfg Config, source string, data []byte) []claim {
	var out []claim
	addrs := append(cfg.ListenStrings(), cfg.SocketListen()...)
	slices.Sort(addrs)
	for _, a := range slices.Compact(addrs) {
		where := source + " (listen's default)"
		if cfg.Socket == SocketReusePort && a == cfg.Cluster().ClusterSocket() {
			where = source + " (socket = \"reuseport\")"
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, `"`+a+`"`) {
				where = fmt.Sprintf("%s:%d", source, i+1)
				break
			}
		}
		out = append(out, claim{a, where})
	}
	return out
}

// CheckApps refuses apps that claim the same address: the second would
// fail to bind, or, with socket = "reuseport", silently take a share of
// the first's connections. cfgs are every app's configuration, with the
// text of each file (none: the defaults).
func CheckApps(cfgs []AppConfig, texts map[string][]byte) error {
	var seen []claim
	var errs []error
	for _, ac := range cfgs {
		for _, c := range claims(ac.Config, ac.Source, texts[ac.Source]) {
			for _, first := range seen {
				if sameAddress(c.addr, first.addr) {
					errs = append(errs, fmt.Errorf("%s: listen %q: %s already listens on %q: %w", c.where, c.addr, first.where, first.addr, ErrConflict))
				}
			}
		}
		seen = append(seen, claims(ac.Config, ac.Source, texts[ac.Source])...)
	}
	return errors.Join(errs...)
}

// sameAddress reports whether two listen addresses would bind the same
// socket: the same path, or the same port where a host is the same or
// any (a bare port, 0.0.0.0, [::]).
func sameAddress(a, b string) bool {
	if strings.HasPrefix(a, "/") || strings.HasPrefix(b, "/") {
		return a == b
	}
	ha, pa := splitAddr(a)
	hb, pb := splitAddr(b)
	if pa != pb {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

func splitAddr(a string) (host, port string) {
	i := strings.LastIndex(a, ":")
	if i < 0 {
		return "", a
	}
	return strings.Trim(a[:i], "[]"), a[i+1:]
}

// LoadApps loads the package's app (its configuration at mainPath) and
// every app in dir, each checked on its own ([Parse]) and then together
// ([CheckApps]). Every problem is in the error, with its file.
func LoadApps(mainPath, dir string) ([]AppConfig, error) {
	clusters, err := Apps(dir)
	errs := []error{err}
	var out []AppConfig
	texts := map[string][]byte{}
	for _, c := range append([]Cluster{App}, clusters...) {
		path := mainPath
		if !c.Main() {
			path = filepath.Join(dir, c.App+".toml")
		}
		data, rerr := os.ReadFile(path)
		if rerr != nil && !(c.Main() && errors.Is(rerr, os.ErrNotExist)) {
			errs = append(errs, fmt.Errorf("read config: %w", rerr))
			continue
		}
		cfg := Default()
		if rerr == nil {
			if cfg, err = Parse(path, data); err != nil {
				errs = append(errs, err)
				continue
			}
			texts[path] = data
		}
		out = append(out, AppConfig{Config: cfg.Of(c), Source: path})
	}
	errs = append(errs, CheckApps(out, texts))
	return out, errors.Join(errs...)
}

// LoadAppsForGenerator is what the generator generates from: each app's
// configuration, or when it does not validate the last one a rollout
// applied ([LoadForGenerator]); an app that has neither, or that claims
// an address an app before it has, is left out, with why in problems.
func LoadAppsForGenerator(mainPath, mainApplied, dir string) (apps []AppConfig, problems []error) {
	clusters, err := Apps(dir)
	if err != nil {
		problems = append(problems, err)
	}
	texts := map[string][]byte{}
	for _, c := range append([]Cluster{App}, clusters...) {
		path, applied := mainPath, mainApplied
		if !c.Main() {
			path, applied = filepath.Join(dir, c.App+".toml"), c.AppliedConfigPath()
		}
		cfg, source, fallback, err := LoadForGenerator(path, applied)
		if err != nil {
			problems = append(problems, fmt.Errorf("app %s: %w", c.AppName(), err))
			continue
		}
		if fallback != "" {
			problems = append(problems, fmt.Errorf("app %s: %s; keeping the last configuration applied (%s) until it is fixed", c.AppName(), fallback, source))
		}
		ac := AppConfig{Config: cfg.Of(c), Source: source, Fallback: fallback}
		if data, err := os.ReadFile(source); err == nil {
			texts[source] = data
		}
		if err := CheckApps(append(apps[:len(apps):len(apps)], ac), texts); err != nil {
			problems = append(problems, fmt.Errorf("app %s is left out: %w", c.AppName(), err))
			continue
		}
		apps = append(apps, ac)
	}
	return apps, problems
}
