package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"example.com/app/units"
)

func defineCheck(fs *pflag.FlagSet) runFunc {
	f := addAppFlags(fs, "configuration file")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout (one object per app)")
	return func(_ context.Context, o *cli, args []string) int {
		apps, ok := o.selected("check", f, args)
		if !ok {
			return 2
		}
		// Each app on its own, then together: two apps may not claim one
		// address.
		var loaded []units.AppConfig
		texts := map[string][]byte{}
		failed := false
		for _, c := range apps {
			path := f.configOf(c)
			cfg, ok := o.config("check", c, path)
			if !ok {
				failed = true
				continue
			}
			if data, err := os.ReadFile(path); err == nil {
				texts[path] = data
				if fi, err := os.Stat(path); err == nil && len(cfg.Env) > 0 && fi.Mode().Perm()&0o004 != 0 {
					fmt.Fprintf(o.stderr, "app-reloader check: warning: %s holds [env] and every local user can read it: chmod o-rwx %s\n", path, path)
				}
			}
			loaded = append(loaded, units.AppConfig{Config: cfg, Source: path})
		}
		if len(apps) > 1 || len(args) == 1 {
			all := loaded
			if len(args) == 1 {
				// The one named, against every other app.
				all = nil
				for _, c := range o.all("check", f) {
					if cfg, err := units.Load(f.configOf(c)); err == nil {
						if data, err := os.ReadFile(f.configOf(c)); err == nil {
							texts[f.configOf(c)] = data
						}
						all = append(all, units.AppConfig{Config: cfg.Of(c), Source: f.configOf(c)})
					}
				}
			}
			if err := units.CheckApps(all, texts); err != nil {
				fmt.Fprintf(o.stderr, "app-reloader check: %v\n", err)
				failed = true
			}
		}
		if failed {
			return 1
		}
		if *asJSON {
			for _, ac := range loaded {
				cfg := ac.Config
				if c := o.json(map[string]any{"ok": true, "app": cfg.Cluster().AppName(), "config": ac.Source, "instances": cfg.Count(), "listen": cfg.Listen, "socket": cfg.Socket, "advice": cfg.Advice()}); c != 0 {
					return c
				}
			}
			return 0
		}
		for _, ac := range loaded {
			cfg := ac.Config
			fmt.Fprintf(o.stdout, "%s: ok (%s%d instances, listen %s, socket %s)\n", ac.Source, appLabel(cfg.Cluster()), cfg.Count(), strings.Join(cfg.ListenStrings(), ", "), cfg.Socket)
		}
		return 0
	}
}

// appLabel is "app api, " for another app, "" for the package's.
func appLabel(c units.Cluster) string {
	if c.Main() {
		return ""
	}
	return "app " + c.App + ", "
}
