package cli

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/units"
)

func defineScale(fs *pflag.FlagSet) runFunc {
	f := addRolloutFlags(fs, "configuration file (rewritten: its instances key)")
	return func(ctx context.Context, o *cli, pos []string) int {
		// scale [APP] COUNT
		c, count := units.App, pos[0]
		if len(pos) == 2 {
			var ok bool
			if c, ok = o.pick("scale", f.appFlags, pos[0]); !ok {
				return 2
			}
			count = pos[1]
		}
		path := f.configOf(c)
		cfg, ok := o.config("scale", c, path)
		if !ok {
			return 1
		}
		want, err := scaleTarget(count, cfg.Count())
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader scale: %v\nnothing was changed: the running instances keep running\n", err)
			return 2
		}
		if os.Geteuid() != 0 {
			fmt.Fprintf(o.stderr, "app-reloader scale: changing %s and the instances needs root (the %s group may run reload only)\nnothing was changed: the running instances keep running\n", path, reloader.DeployGroup)
			return 1
		}
		opts, end, ok := o.begin(ctx, "scale", cfg, f)
		if !ok {
			return 1
		}
		defer end()
		before := cfg.Count()
		if cfg, err = units.SetInstances(path, want); err != nil {
			fmt.Fprintf(o.stderr, "app-reloader scale: %v\nnothing was changed: the running instances keep running\n", err)
			return 1
		}
		cfg = cfg.Of(c)
		// The file changed: the reloader's view of it must too.
		opts.Files = &reloader.FileState{Config: cfg, Source: path, AppliedPath: c.AppliedConfigPath()}
		fmt.Fprintf(o.progress(*f.json), "scaling %sfrom %d to %d instances (%s: instances = %s)\n", appLabel(c), before, cfg.Count(), path, want.TOML())
		rep, rerr := reloader.New(opts).Scale(ctx, cfg.Count())
		defer o.rolled(ctx, c, f.appFlags, reportOf(c, reloader.DefaultReportPath), rerr == nil)
		return o.report("scale", rep, rerr, *f.json)
	}
}

// scaleMore follows scale's flags in its help. (-N is a count, not a
// flag: normalize puts it after --.)
const scaleMore = `
COUNT is a number of instances, "auto" (one per CPU, at least 2), or +N or
-N to add or remove instances. The count is written to the configuration,
so it lasts across reboots; instances that run are not restarted.
`

var relative = regexp.MustCompile(`^[+-][0-9]+$`)

// scaleTarget reads the argument of scale: a count, "auto", +N or -N
// relative to the current count.
func scaleTarget(arg string, current int) (units.Instances, error) {
	if strings.HasPrefix(arg, "+") || strings.HasPrefix(arg, "-") {
		d, err := strconv.Atoi(arg)
		if err != nil {
			return units.Instances{}, fmt.Errorf("COUNT %q: want a number, \"auto\", +N or -N", arg)
		}
		n := current + d
		if n < 1 || n > units.MaxInstances {
			return units.Instances{}, fmt.Errorf("COUNT %s: %d %s %d is %d; want 1 to %d instances", arg, current, arg[:1], max(d, -d), n, units.MaxInstances)
		}
		return units.Instances{N: n}, nil
	}
	in, err := units.ParseInstances(arg)
	if err != nil {
		return units.Instances{}, fmt.Errorf("COUNT %q: %w", arg, err)
	}
	return in, nil
}
