package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"example.com/app/reloader"
	"example.com/app/reloader/fleet"
	"example.com/app/reloader/proc"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

func runStatus(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("status")
	config := fs.String("config", units.DefaultConfigPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the status as JSON on stdout (fields: see man app-reloader)")
	reportPath := fs.String("report", reloader.DefaultReportPath, "where the last rollout's report is kept")
	hf := addHostFlags(fs, false)
	if code := o.parse(fs, args, 0, 0); code >= 0 {
		return code
	}
	if len(hf.hosts) > 0 {
		return o.statusHosts(ctx, hf, *asJSON)
	}
	v, ok := o.view(ctx, "status", *config)
	if !ok {
		return 1
	}
	defer v.sd.Close()
	r := reloader.New(options(v.sd, v.cfg, *config, o.quietLogger()))
	want := v.want
	st, err := r.Status(ctx, want)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader status: %v\n", err)
		return 1
	}
	if st.LastRollout, err = reloader.LoadReport(*reportPath); errors.Is(err, os.ErrPermission) {
		st.ReportUnreadable = true
	} else if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader status: %v\n", err)
	}
	st.Assess((*proc.Process).Alive)
	if *asJSON {
		return o.json(st)
	}
	view.WriteStatus(o.stdout, st, time.Now(), view.Colorful(o.stdout))
	return 0
}

// statusHosts is `app-reloader status -host …`.
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
