package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"example.com/app/reloader"
	"example.com/app/reloader/sdbus"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

// rolloutFlags are the flags reload and scale share.
type rolloutFlags struct {
	config, lock            *string
	json, verbose, plainOut *bool
	waitLock                *time.Duration
}

func addRolloutFlags(fs *flag.FlagSet, configHelp string) rolloutFlags {
	return rolloutFlags{
		config:   fs.String("config", units.DefaultConfigPath, configHelp),
		json:     fs.Bool("json", false, "print the report as JSON on stdout (progress goes to stderr)"),
		lock:     fs.String("lock", reloader.DefaultLockPath, "rollout lock file"),
		verbose:  fs.Bool("verbose", false, "log each step's D-Bus calls and timings"),
		plainOut: fs.Bool("plain", false, "progress as one line per step even on a terminal"),
		waitLock: fs.Duration("wait-lock", 0, "wait this long for a rollout that runs to end, instead of refusing at once (the package's upgrade waits 10m)"),
	}
}

// begin connects to systemd and takes the rollout lock, and returns the
// rollout's options; end undoes both.
func (o *cli) begin(ctx context.Context, cmd string, cfg units.Config, f rolloutFlags) (opts reloader.Options, end func(), ok bool) {
	sd, ok := o.connect(cmd, ctx)
	if !ok {
		return opts, nil, false
	}
	closeBus := sd.Close
	opts = options(sd, cfg, *f.config, verboseLogger(o.stderr, *f.verbose))
	unlock, err := reloader.LockWait(*f.lock, *f.waitLock, func(holder string) {
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

func runReload(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("reload")
	f := addRolloutFlags(fs, "configuration file")
	reportPath := fs.String("report", reloader.DefaultReportPath, "where the last rollout's report is kept")
	hf := addHostFlags(fs, true)
	if code := o.parse(fs, args, 0, 0); code >= 0 {
		return code
	}
	if len(hf.hosts) > 0 {
		return o.reloadHosts(ctx, hf, *f.json)
	}
	if os.Geteuid() != 0 {
		// The rollout runs as root, which checks the configuration
		// before it touches anything; whoever can read it here gets the
		// same refusal sooner.
		if _, err := units.Load(*f.config); err != nil && !errors.Is(err, os.ErrPermission) {
			fmt.Fprintf(o.stderr, "app-reloader reload: %v\nnothing was changed: the running instances keep running\n", err)
			return 1
		}
		return o.delegate(ctx, *f.config, *reportPath, *f.json)
	}
	cfg, ok := o.config("reload", *f.config)
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
		if err := reloader.SaveReport(*reportPath, rep); err != nil && saveErr == nil {
			saveErr = err
			fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		}
	}
	fmt.Fprintf(o.progress(*f.json), "rolling %d instances of %s\n", cfg.Count(), strings.Join(cfg.ListenStrings(), ", "))
	rep, rerr := reloader.New(opts).Reload(ctx, cfg.Count())
	if err := reloader.SaveReport(*reportPath, rep); err != nil && saveErr == nil {
		fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
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
// rollout itself runs as root, in app-reload.service.
func (o *cli) delegate(ctx context.Context, config, reportPath string, asJSON bool) int {
	if config != units.DefaultConfigPath {
		fmt.Fprintf(o.stderr, "app-reloader reload: -config %s: without root, a rollout runs as root through %s and applies %s\n", config, reloader.ReloadUnit, units.DefaultConfigPath)
		return 2
	}
	sd, err := sdbus.Connect(ctx)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		return 1
	}
	defer sd.Close()
	fmt.Fprintf(o.progress(asJSON), "not root: asking systemd to reload %s, which rolls the instances as root…\n", reloader.ReloadUnit)
	rep, err := reloader.Delegate(ctx, sd, reportPath)
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
	return 0
}
