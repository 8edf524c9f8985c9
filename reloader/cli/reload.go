package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/sdbus"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

// rolloutFlags are the flags reload and scale share.
type rolloutFlags struct {
	*appFlags
	lock                    *string
	json, verbose, plainOut *bool
	waitLock                *time.Duration
}

func addRolloutFlags(fs *pflag.FlagSet, configHelp string) rolloutFlags {
	return rolloutFlags{
		appFlags: addAppFlags(fs, configHelp),
		json:     fs.Bool("json", false, "print the report as JSON on stdout (progress goes to stderr; one object per app)"),
		lock:     fs.String("lock", reloader.DefaultLockPath, "rollout lock file of the package's app"),
		verbose:  fs.Bool("verbose", false, "log each step's D-Bus calls and timings"),
		plainOut: fs.Bool("plain", false, "progress as one line per step even on a terminal"),
		waitLock: fs.Duration("wait-lock", 0, "wait this long for a rollout that runs to end, instead of refusing at once (the package's upgrade waits 10m)"),
	}
}

// begin connects to systemd and takes the app's rollout lock, and
// returns the rollout's options; end undoes both.
func (o *cli) begin(ctx context.Context, cmd string, cfg units.Config, f rolloutFlags) (opts reloader.Options, end func(), ok bool) {
	sd, ok := o.connect(cmd, ctx)
	if !ok {
		return opts, nil, false
	}
	closeBus := sd.Close
	c := cfg.Cluster()
	opts = options(sd, cfg, f.configOf(c), verboseLogger(o.stderr, *f.verbose))
	unlock, err := reloader.LockWait(lockOf(c, *f.lock), *f.waitLock, func(holder string) {
		fmt.Fprintf(o.stderr, "app-reloader %s: %s; waiting up to %s for it to end…\n", cmd, holder, *f.waitLock)
	})
	if err != nil {
		closeBus()
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		if errors.Is(err, reloader.ErrBusy) {
			fmt.Fprintf(o.stderr, "nothing was changed: run `app-reloader %s` again once it has ended\n", cmd)
		}
		return opts, nil, false
	}
	if err := reloader.MigrateProbeDir(units.ProbeDir); err != nil {
		unlock()
		closeBus()
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\nnothing was changed: the running instances keep running\n", cmd, err)
		return opts, nil, false
	}
	opts.Progress = view.ProgressTo(o.progress(*f.json), *f.plainOut)
	return opts, func() { unlock(); closeBus() }, true
}

func defineReload(fs *pflag.FlagSet) runFunc {
	f := addRolloutFlags(fs, "configuration file")
	reportPath := fs.String("report", reloader.DefaultReportPath, "where the last rollout's report of the package's app is kept")
	hf := addHostFlags(fs, true)
	return func(ctx context.Context, o *cli, args []string) int {
		if len(hf.hosts) > 0 {
			return o.reloadHosts(ctx, hf, *f.json)
		}
		// Which apps: the one named, or every app, the package's first; -config
		// alone means the package's app alone.
		var apps []units.Cluster
		switch {
		case len(args) == 1:
			c, ok := o.pick("reload", f.appFlags, args[0])
			if !ok {
				return 2
			}
			apps = []units.Cluster{c}
		case f.given("config"):
			apps = []units.Cluster{units.App}
		default:
			apps = o.all("reload", f.appFlags)
		}
		if os.Geteuid() != 0 {
			// The rollout runs as root, which checks the configuration
			// before it touches anything; whoever can read it here gets the
			// same refusal sooner.
			for _, c := range apps {
				if _, err := units.Load(f.configOf(c)); err != nil && !errors.Is(err, os.ErrPermission) {
					fmt.Fprintf(o.stderr, "app-reloader reload: %v\nnothing was changed: the running instances keep running\n", err)
					return 1
				}
			}
			// Without an app named, app-reload.service rolls every app.
			return o.delegate(ctx, f.appFlags, apps, len(args) == 0, *reportPath, *f.json)
		}
		if len(args) == 0 && len(apps) > 1 {
			// Every app that runs: one stopped stays stopped (as an upgrade
			// leaves it); the package's app too, when there are others.
			if apps = o.runningApps(ctx, apps); len(apps) == 0 {
				fmt.Fprintln(o.stderr, "app-reloader reload: no app runs; start one with: app-reloader reload APP")
				return 1
			}
		}
		for i, c := range apps {
			if len(apps) > 1 {
				if i > 0 {
					fmt.Fprintln(o.progress(*f.json))
				}
				fmt.Fprintf(o.progress(*f.json), "== %s\n", c.AppName())
			}
			if code := o.reloadApp(ctx, c, f, reportOf(c, *reportPath)); code != 0 {
				if rest := apps[i+1:]; len(rest) > 0 {
					var names []string
					for _, r := range rest {
						names = append(names, r.AppName())
					}
					fmt.Fprintf(o.stderr, "app-reloader reload: halted at app %s: %s not rolled\n", c.AppName(), strings.Join(names, ", "))
				}
				return code
			}
		}
		return 0
	}
}

// reloadApp rolls one app, as root, and saves its report at reportPath.
func (o *cli) reloadApp(ctx context.Context, c units.Cluster, f rolloutFlags, reportPath string) int {
	cfg, ok := o.config("reload", c, f.configOf(c))
	if !ok {
		return 1
	}
	opts, end, ok := o.begin(ctx, "reload", cfg, f)
	if !ok {
		return 1
	}
	defer end()
	// The report is saved as the rollout begins and after each step: a
	// killed rollout leaves one that says so.
	var saveErr error
	opts.Checkpoint = func(rep reloader.Report) {
		if err := reloader.SaveReport(reportPath, rep); err != nil && saveErr == nil {
			saveErr = err
			fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		}
	}
	fmt.Fprintf(o.progress(*f.json), "rolling %d instances of %s\n", cfg.Count(), strings.Join(cfg.ListenStrings(), ", "))
	rep, rerr := reloader.New(opts).Reload(ctx, cfg.Count())
	if err := reloader.SaveReport(reportPath, rep); err != nil && saveErr == nil {
		fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
	}
	defer o.rolled(ctx, c, f.appFlags, reportPath, rerr == nil)
	if rerr == nil {
		// The app's instances run: its target too, as after a boot (a new
		// app's first rollout starts it; its reload unit comes with it).
		if u, err := opts.Systemd.Unit(ctx, c.Target()); err == nil && !u.Running() {
			if res, err := opts.Systemd.Start(ctx, c.Target()); err != nil || res != "done" {
				fmt.Fprintf(o.stderr, "app-reloader reload: start %s: %s %v\n", c.Target(), res, err)
			} else {
				fmt.Fprintf(o.progress(*f.json), "started %s\n", c.Target())
			}
		}
	}
	return o.report("reload", rep, rerr, *f.json)
}

// progress is where a rollout's progress goes: stdout, or stderr when
// stdout carries JSON.
func (o *cli) progress(asJSON bool) io.Writer {
	if asJSON {
		return o.stderr
	}
	return o.stdout
}

// report prints a rollout's report and returns the exit status.
func (o *cli) report(cmd string, rep reloader.Report, err error, asJSON bool) int {
	if asJSON {
		o.json(rep)
	} else {
		view.WriteReport(o.stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// delegate is `app-reloader reload` run by someone other than root: the
// rollout itself runs as root, in the app's reload unit; every app's, in
// app-reload.service.
func (o *cli) delegate(ctx context.Context, f *appFlags, apps []units.Cluster, every bool, reportPath string, asJSON bool) int {
	if f.given("config") || f.given("apps") {
		fmt.Fprintf(o.stderr, "app-reloader reload: --config, --apps: without root, a rollout runs as root through the app's reload unit and applies its own configuration\n")
		return 2
	}
	c := units.App
	if !every {
		c = apps[0]
	}
	sd, err := sdbus.Connect(ctx)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		return 1
	}
	defer sd.Close()
	what := "the instances"
	if every && len(apps) > 1 {
		what = "every app's instances"
	}
	fmt.Fprintf(o.progress(asJSON), "not root: asking systemd to reload %s, which rolls %s as root…\n", c.ReloadUnit(), what)
	rep, err := reloader.Delegate(ctx, sd, c, reportOf(c, reportPath))
	if rep != nil {
		if asJSON {
			o.json(rep)
		} else {
			view.WriteReport(o.stdout, *rep)
		}
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		if errors.Is(err, reloader.ErrNotAllowed) || errors.Is(err, reloader.ErrNotRunning) {
			fmt.Fprintln(o.stderr, "nothing was changed: the running instances keep running")
		}
		return 1
	}
	if every && len(apps) > 1 {
		// The other apps' reports, as that rollout left them.
		for _, other := range apps[1:] {
			if rep, err := reloader.LoadReport(reloader.ReportPath(other)); err == nil && rep != nil {
				fmt.Fprintf(o.stdout, "\n== %s\n", other.AppName())
				view.WriteReport(o.stdout, *rep)
			}
		}
	}
	return 0
}

// runningApps are those of apps whose target is active, saying which are
// left alone.
func (o *cli) runningApps(ctx context.Context, apps []units.Cluster) []units.Cluster {
	sd, ok := o.connect("reload", ctx)
	if !ok {
		return apps
	}
	defer sd.Close()
	var out []units.Cluster
	for _, c := range apps {
		if u, err := sd.Unit(ctx, c.Target()); err == nil && !u.Running() {
			fmt.Fprintf(o.stderr, "app-reloader reload: %s is stopped (%s): not rolled; `app-reloader reload %s` starts it\n", c.AppName(), c.Target(), c.AppName())
			continue
		}
		out = append(out, c)
	}
	return out
}
