package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/metrics"
	"example.com/app/units"
)

func defineMetrics(fs *pflag.FlagSet) runFunc {
	f := addAppFlags(fs, "configuration file")
	textfile := fs.String("textfile", "", "write them to this file at once (a temporary file renamed over it), as the node exporter's textfile collector reads them ("+metrics.DefaultTextfile+"), instead of stdout")
	reportPath := fs.String("report", reloader.DefaultReportPath, "where the last rollout's report of the package's app is kept")
	counts := fs.String("counts", metrics.CountsPath, "where the rollouts are counted")
	return func(ctx context.Context, o *cli, args []string) int {
		apps, ok := o.selected("metrics", f, args)
		if !ok {
			return 2
		}
		ms, ok := o.metricsOf(ctx, apps, f, *reportPath, *counts)
		if !ok {
			return 1
		}
		if *textfile == "" {
			if err := metrics.Write(o.stdout, ms, time.Now()); err != nil {
				fmt.Fprintf(o.stderr, "app-reloader metrics: %v\n", err)
				return 1
			}
			return 0
		}
		if err := metrics.WriteFile(*textfile, ms, time.Now()); err != nil {
			fmt.Fprintf(o.stderr, "app-reloader metrics: %v\n", err)
			if errors.Is(err, os.ErrNotExist) && filepath.Dir(*textfile) == metrics.TextfileDir {
				fmt.Fprintln(o.stderr, "(the directory comes with Debian's prometheus-node-exporter)")
			}
			return 1
		}
		return 0
	}
}

// metricsOf takes each app's status, last rollout and counts.
func (o *cli) metricsOf(ctx context.Context, apps []units.Cluster, f *appFlags, reportPath, countsPath string) ([]metrics.App, bool) {
	counts, err := metrics.LoadCounts(countsPath)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader metrics: %v\n", err) // the rest is still worth having
	}
	var ms []metrics.App
	for _, c := range apps {
		st, ok := o.status(ctx, c, f.configOf(c), reportOf(c, reportPath))
		if !ok {
			return nil, false
		}
		ms = append(ms, metrics.App{Status: st, Counts: counts[c.AppName()]})
	}
	return ms, true
}

// rolled records a rollout of app c that ended (ok or not) for the
// metrics: it counts it, and when Debian's node exporter collects text
// files here, writes every app's metrics there at once rather than at the
// next tick of app-metrics.timer. What fails is said, never the rollout's
// result.
func (o *cli) rolled(ctx context.Context, c units.Cluster, f *appFlags, reportPath string, ok bool) {
	if err := metrics.Count(metrics.CountsPath, c.AppName(), ok); err != nil {
		fmt.Fprintf(o.stderr, "app-reloader: metrics: %v\n", err)
	}
	if fi, err := os.Stat(metrics.TextfileDir); err != nil || !fi.IsDir() {
		return
	}
	ms, ok := o.metricsOf(ctx, o.all("metrics", f), f, reportPath, metrics.CountsPath)
	if !ok {
		return
	}
	if err := metrics.WriteFile(metrics.DefaultTextfile, ms, time.Now()); err != nil {
		fmt.Fprintf(o.stderr, "app-reloader: metrics: %v\n", err)
	}
}
