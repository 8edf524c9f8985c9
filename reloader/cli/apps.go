package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/units"
)

// appFlags are the flags every command that takes an app has: where the
// package's app's files are (--config and friends, for it alone) and where
// the other apps' configurations are.
type appFlags struct {
	config *string
	apps   *string
	fs     *pflag.FlagSet
}

func addAppFlags(fs *pflag.FlagSet, configHelp string) *appFlags {
	return &appFlags{
		config: fs.String("config", units.DefaultConfigPath, configHelp+" of the package's app (app)"),
		apps:   fs.String("apps", units.AppsDir, "directory of the other apps' configurations (NAME.toml)"),
		fs:     fs,
	}
}

// given reports whether flag name was on the command line.
func (f *appFlags) given(name string) bool {
	return f.fs.Changed(name)
}

// configOf is app c's configuration file.
func (f *appFlags) configOf(c units.Cluster) string {
	if c.Main() {
		return *f.config
	}
	return filepath.Join(*f.apps, c.App+".toml")
}

// all lists the package's app and the others in --apps, saying what is
// wrong with the directory; the apps it could list are still returned.
func (o *cli) all(cmd string, f *appFlags) []units.Cluster {
	apps, err := units.Apps(*f.apps)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
	}
	return append([]units.Cluster{units.App}, apps...)
}

// selected are the apps a command that shows or checks apps works on: the
// one named in args, or every app (the package's first); --config alone
// means the package's app alone. ok is false when the named app is none.
func (o *cli) selected(cmd string, f *appFlags, args []string) (apps []units.Cluster, ok bool) {
	if len(args) == 1 {
		c, ok := o.pick(cmd, f, args[0])
		return []units.Cluster{c}, ok
	}
	apps = o.all(cmd, f)
	if f.given("config") && !f.given("apps") {
		apps = apps[:1]
	}
	return apps, true
}

// pick finds the app a command names: "app" is the package's own, any
// other name one in --apps.
func (o *cli) pick(cmd string, f *appFlags, name string) (units.Cluster, bool) {
	apps := o.all(cmd, f)
	var names []string
	for _, c := range apps {
		if c.AppName() == name {
			return c, true
		}
		names = append(names, c.AppName())
	}
	fmt.Fprintf(o.stderr, "app-reloader %s: no app %q (apps: %s; another app is a file NAME.toml in %s)\n", cmd, name, strings.Join(names, ", "), *f.apps)
	return units.Cluster{}, false
}

// appPrefix is "api: " for another app's messages, "" for the package's.
func appPrefix(c units.Cluster) string {
	if c.Main() {
		return ""
	}
	return c.App + ": "
}

// reportOf is where app c's last rollout's report is; for the package's
// app, flag (--report).
func reportOf(c units.Cluster, flag string) string {
	if c.Main() {
		return flag
	}
	return reloader.ReportPath(c)
}

// lockOf is app c's rollout lock; for the package's app, flag (--lock).
func lockOf(c units.Cluster, flag string) string {
	if c.Main() {
		return flag
	}
	return reloader.LockPath(c)
}

// appInstance reads "[APP:]INSTANCE" (api:0, 0, app@0.service,
// app-api@1): the app, and the instance as the app's cluster names it.
func (o *cli) appInstance(cmd string, f *appFlags, arg string) (units.Cluster, string, bool) {
	c := units.App
	inst := arg
	if name, rest, ok := strings.Cut(arg, ":"); ok {
		if c, ok = o.pick(cmd, f, name); !ok {
			return c, "", false
		}
		inst = rest
	} else if strings.HasPrefix(arg, "app-") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(arg, "app-"), "@"); ok {
			if c, ok = o.pick(cmd, f, name); !ok {
				return c, "", false
			}
		}
	}
	unit, err := c.InstanceUnit(inst)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return c, "", false
	}
	return c, unit, true
}
