package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"example.com/app/reloader"
	"example.com/app/reloader/fleet"
	"example.com/app/reloader/proc"
	"example.com/app/reloader/steer"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

func defineStatus(fs *pflag.FlagSet) runFunc {
	f := addAppFlags(fs, "configuration file")
	asJSON := fs.Bool("json", false, "print the status as JSON on stdout (fields: see man app-reloader); the other apps in other_apps")
	reportPath := fs.String("report", reloader.DefaultReportPath, "where the last rollout's report of the package's app is kept")
	hf := addHostFlags(fs, false)
	return func(ctx context.Context, o *cli, args []string) int {
		if len(hf.hosts) > 0 {
			return o.statusHosts(ctx, hf, *asJSON)
		}
		// One app, or every app, the package's first (as pm2 list).
		apps, ok := o.selected("status", f, args)
		if !ok {
			return 2
		}
		var all []reloader.Status
		for _, c := range apps {
			st, ok := o.status(ctx, c, f.configOf(c), reportOf(c, *reportPath))
			if !ok {
				return 1
			}
			all = append(all, st)
		}
		first := all[0]
		first.OtherApps = all[1:]
		if *asJSON {
			return o.json(first)
		}
		for i, st := range all {
			if len(all) > 1 {
				if i > 0 {
					fmt.Fprintln(o.stdout)
				}
				fmt.Fprintf(o.stdout, "== %s\n", st.App)
			}
			view.WriteStatus(o.stdout, st, time.Now(), view.Colorful(o.stdout))
		}
		return 0
	}
}

// status is app c's status, with its last rollout's report.
func (o *cli) status(ctx context.Context, c units.Cluster, config, reportPath string) (reloader.Status, bool) {
	v, ok := o.view(ctx, "status", c, config)
	if !ok {
		return reloader.Status{}, false
	}
	defer v.sd.Close()
	r := reloader.New(options(v.sd, v.cfg, config, o.quietLogger()))
	st, err := r.Status(ctx, v.want)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader status: %s%v\n", appPrefix(c), err)
		return st, false
	}
	if st.LastRollout, err = reloader.LoadReport(reportPath); errors.Is(err, os.ErrPermission) {
		st.ReportUnreadable = true
	} else if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader status: %s%v\n", appPrefix(c), err)
	}
	st.Assess((*proc.Process).Alive)
	if len(st.Sockets) > 0 {
		steered(&st, c)
	}
	return st, true
}

// steered reads which instances new connections go to.
func steered(st *reloader.Status, c units.Cluster) {
	ready, err := steer.Read(steer.StatePath(c.Name))
	switch {
	case errors.Is(err, steer.ErrNotSteered):
		st.SteerNote = "none: the kernel's own hash, over every instance's socket"
	case errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EPERM):
		st.SteerNote = "root can tell"
	case err != nil:
		st.SteerNote = err.Error()
	default:
		for _, r := range ready {
			st.Steered = append(st.Steered, int(r))
		}
		if len(ready) == 0 {
			st.SteerNote = "no instance is ready: the kernel's own hash, over every instance's socket"
		}
	}
}

// statusHosts is `app-reloader status --host …`.
func (o *cli) statusHosts(ctx context.Context, f *hostFlags, asJSON bool) int {
	all := map[string]reloader.Status{}
	code := 0
	for i, host := range f.hosts {
		r := fleet.Remote{Host: host, SSH: *f.ssh}
		st, err := func() (reloader.Status, error) {
			d, err := r.Connect(ctx)
			if err != nil {
				return reloader.Status{}, err
			}
			defer d.Close()
			return r.Status(ctx, d, units.App)
		}()
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader status: %s: %v\n", host, err)
			code = 1
			continue
		}
		all[host] = st
		if !asJSON {
			if i > 0 {
				fmt.Fprintln(o.stdout)
			}
			fmt.Fprintf(o.stdout, "== %s\n", host)
			view.WriteStatus(o.stdout, st, time.Now(), view.Colorful(o.stdout))
		}
	}
	if asJSON {
		if c := o.json(all); c != 0 {
			return c
		}
	}
	return code
}
