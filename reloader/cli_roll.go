package reloader

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

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
		lock:     fs.String("lock", DefaultLockPath, "rollout lock file"),
		verbose:  fs.Bool("verbose", false, "log each step's D-Bus calls and timings"),
		plainOut: fs.Bool("plain", false, "progress as one line per step even on a terminal"),
		waitLock: fs.Duration("wait-lock", 0, "wait this long for a rollout that runs to end, instead of refusing at once (the package's upgrade waits 10m)"),
	}
}

// begin connects to systemd and takes the rollout lock; end undoes both.
func (o *cli) begin(ctx context.Context, cmd string, cfg units.Config, f rolloutFlags) (r *Reloader, end func(), ok bool) {
	r, closeBus, ok := o.reloader(ctx, cmd, cfg, *f.config, verboseLogger(o.stderr, *f.verbose))
	if !ok {
		return nil, nil, false
	}
	unlock, err := LockWait(*f.lock, *f.waitLock, func(holder string) {
		fmt.Fprintf(o.stderr, "app-reloader %s: %s; waiting up to %s for it to end…\n", cmd, holder, *f.waitLock)
	})
	if err != nil {
		closeBus()
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		if errors.Is(err, ErrBusy) {
			fmt.Fprintf(o.stderr, "nothing was changed: run `app-reloader %s` again once it has ended\n", cmd)
		}
		return nil, nil, false
	}
	if err := MigrateProbeDir(units.ProbeDir); err != nil {
		unlock()
		closeBus()
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\nnothing was changed: the running instances keep running\n", cmd, err)
		return nil, nil, false
	}
	r.Progress = progressTo(o.progress(*f.json), *f.plainOut)
	return r, func() { unlock(); closeBus() }, true
}

func runReload(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("reload")
	f := addRolloutFlags(fs, "configuration file")
	reportPath := fs.String("report", DefaultReportPath, "where the last rollout's report is kept")
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
	r, end, ok := o.begin(ctx, "reload", cfg, f)
	if !ok {
		return 1
	}
	defer end()
	// The report is saved as the rollout begins and after each step: a
	// killed rollout leaves one that says so.
	var saveErr error
	r.Checkpoint = func(rep Report) {
		if err := SaveReport(*reportPath, rep); err != nil && saveErr == nil {
			saveErr = err
			fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		}
	}
	fmt.Fprintf(o.progress(*f.json), "rolling %d instances of %s\n", cfg.Count(), strings.Join(cfg.ListenStrings(), ", "))
	rep, rerr := r.Reload(ctx, cfg.Count())
	if err := SaveReport(*reportPath, rep); err != nil && saveErr == nil {
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
func (o *cli) report(cmd string, rep Report, err error, asJSON bool) int {
	if asJSON {
		o.json(rep)
	} else {
		WriteReport(o.stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func runScale(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("scale")
	f := addRolloutFlags(fs, "configuration file (rewritten: its instances key)")
	fs.Usage = scaleUsage(fs, fs.Usage)
	// -N is a count, not a flag.
	var rest []string
	for i, a := range args {
		if relative.MatchString(a) && a[0] == '-' {
			rest = append(append(rest, args[:i]...), args[i+1:]...)
			rest = append(rest, "--", a)
			break
		}
	}
	if rest != nil {
		args = rest
	}
	if code := o.parse(fs, args, 1, 1); code >= 0 {
		return code
	}
	cfg, ok := o.config("scale", *f.config)
	if !ok {
		return 1
	}
	want, err := scaleTarget(fs.Arg(0), cfg.Count())
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader scale: %v\nnothing was changed: the running instances keep running\n", err)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintf(o.stderr, "app-reloader scale: changing %s and the instances needs root (the %s group may run reload only)\nnothing was changed: the running instances keep running\n", *f.config, DeployGroup)
		return 1
	}
	r, end, ok := o.begin(ctx, "scale", cfg, f)
	if !ok {
		return 1
	}
	defer end()
	before := cfg.Count()
	if cfg, err = units.SetInstances(*f.config, want); err != nil {
		fmt.Fprintf(o.stderr, "app-reloader scale: %v\nnothing was changed: the running instances keep running\n", err)
		return 1
	}
	// The file changed: the reloader's view of it must too.
	files := &FileState{Config: cfg, Source: *f.config}
	r.Unchanged, r.Reloaded = files.Unchanged, files.Reloaded
	fmt.Fprintf(o.progress(*f.json), "scaling from %d to %d instances (%s: instances = %s)\n", before, cfg.Count(), *f.config, want.TOML())
	rep, rerr := r.Scale(ctx, cfg.Count())
	return o.report("scale", rep, rerr, *f.json)
}

func scaleUsage(fs interface{ Output() io.Writer }, std func()) func() {
	return func() {
		std()
		fmt.Fprint(fs.Output(), `
COUNT is a number of instances, "auto" (one per CPU, at least 2), or +N or
-N to add or remove instances. The count is written to the configuration,
so it lasts across reboots; instances that run are not restarted.
`)
	}
}

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

// delegate is `app-reloader reload` run by someone other than root: the
// rollout itself runs as root, in app-reload.service.
func (o *cli) delegate(ctx context.Context, config, reportPath string, asJSON bool) int {
	if config != units.DefaultConfigPath {
		fmt.Fprintf(o.stderr, "app-reloader reload: -config %s: without root, a rollout runs as root through %s and applies %s\n", config, ReloadUnit, units.DefaultConfigPath)
		return 2
	}
	sd, err := Connect(ctx)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		return 1
	}
	defer sd.Close()
	fmt.Fprintf(o.progress(asJSON), "not root: asking systemd to reload %s, which rolls the instances as root…\n", ReloadUnit)
	rep, err := Delegate(ctx, sd, reportPath)
	if rep != nil {
		if asJSON {
			o.json(rep)
		} else {
			WriteReport(o.stdout, *rep)
		}
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader reload: %v\n", err)
		if errors.Is(err, ErrNotAllowed) || errors.Is(err, ErrNotRunning) {
			fmt.Fprintln(o.stderr, "nothing was changed: the running instances keep running")
		}
		return 1
	}
	return 0
}

func runGuard(_ context.Context, o *cli, args []string) int {
	fs := o.flags("guard")
	maxRestarts := fs.Int("max-restarts", DefaultMaxRestarts, "restarts allowed within the window")
	window := fs.Duration("window", DefaultGuardWindow, "the window")
	dir := fs.String("dir", DefaultGuardDir, "where start times are kept")
	socket := fs.String("socket", "", "the instance's own socket (socket = \"reuseport\"), stopped with it when it is kept down")
	stopped := fs.Bool("stopped", false, "run as ExecStopPost=: forget the instance's starts when it ended cleanly ($SERVICE_RESULT=success)")
	if code := o.parse(fs, args, 1, 1); code >= 0 {
		return code
	}
	if *maxRestarts < 0 || *window <= 0 {
		fmt.Fprintln(o.stderr, "app-reloader guard: -max-restarts must be 0 or more and -window positive")
		return 2
	}
	unit := fs.Arg(0)
	if *stopped {
		// A clean stop (systemctl stop or restart, a mode switch, a
		// shutdown) is no crash: only starts that follow failures count.
		if err := Stopped(*dir, unit, os.Getenv("SERVICE_RESULT")); err != nil {
			fmt.Fprintf(o.stderr, "app-reloader guard: %v\n", err)
		}
		return 0
	}
	_, err := Guard(*dir, unit, time.Now(), *maxRestarts, *window)
	switch {
	case errors.Is(err, ErrCrashLoop):
		fmt.Fprintf(o.stderr, "%v: not starting it again; the other instances keep serving. Fix it, then run: app-reloader reload\n", err)
		if *socket != "" {
			// Its own socket would keep queueing a share of the new
			// connections for an instance that does not come back.
			if serr := stopSocket(*socket); serr != nil {
				fmt.Fprintf(o.stderr, "app-reloader guard: %v\n", serr)
			} else {
				fmt.Fprintf(o.stderr, "stopping %s too: new connections go to the other instances\n", *socket)
			}
		}
		return 1
	case err != nil:
		// Never keep a healthy instance down because of the guard itself.
		fmt.Fprintf(o.stderr, "app-reloader guard: %v (starting %s anyway)\n", err, unit)
	}
	return 0
}

// stopSocket enqueues the stop of an instance's socket, and of the socket
// alone: a normal stop would also stop the instance (Requires=) and so
// cancel the start job that is running this guard, which would leave the
// instance failed instead of skipped.
func stopSocket(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := Connect(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.StopAlone(ctx, name)
}
