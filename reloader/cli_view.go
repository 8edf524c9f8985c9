package reloader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"example.com/app/units"
)

func runStatus(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("status")
	config := fs.String("config", units.DefaultConfigPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the status as JSON on stdout (fields: see man app-reloader)")
	reportPath := fs.String("report", DefaultReportPath, "where the last rollout's report is kept")
	hf := addHostFlags(fs, false)
	if code := o.parse(fs, args, 0, 0); code >= 0 {
		return code
	}
	if len(hf.hosts) > 0 {
		return o.statusHosts(ctx, hf, *asJSON)
	}
	cfg, unreadable, ok := o.viewConfig("status", *config)
	if !ok {
		return 1
	}
	r, closeBus, ok := o.reloader(ctx, "status", cfg, *config, nil)
	if !ok {
		return 1
	}
	defer closeBus()
	want, err := count(ctx, r.Systemd.(*DBus), cfg, unreadable)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader status: %v\n", err)
		return 1
	}
	st, err := r.Status(ctx, want)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader status: %v\n", err)
		return 1
	}
	if st.LastRollout, err = LoadReport(*reportPath); errors.Is(err, os.ErrPermission) {
		st.ReportUnreadable = true
	} else if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader status: %v\n", err)
	}
	st.Assess((*Process).Alive)
	if *asJSON {
		return o.json(st)
	}
	WriteStatus(o.stdout, st, time.Now(), colorful(o.stdout))
	return 0
}

func runDescribe(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("describe")
	config := fs.String("config", units.DefaultConfigPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the description as JSON on stdout")
	showEnv := fs.Bool("show-env", false, "show the values of the environment from app.toml's [env] (root only), masked otherwise")
	if code := o.parse(fs, args, 1, 1); code >= 0 {
		return code
	}
	unit, err := InstanceUnit("app", fs.Arg(0))
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader describe: %v\n", err)
		return 2
	}
	cfg, unreadable, ok := o.viewConfig("describe", *config)
	if !ok {
		return 1
	}
	sd, err := Connect(ctx)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader describe: %v\n", err)
		return 1
	}
	defer sd.Close()
	want, err := count(ctx, sd, cfg, unreadable)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader describe: %v\n", err)
		return 1
	}
	sockets := []string{units.Socket}
	own := socketOf(unit)
	if unreadable {
		// socket = "reuseport" or not: its own socket is loaded or not.
		if loaded, err := sd.List(ctx, own); err == nil && len(loaded) > 0 {
			sockets = append(sockets, own)
		}
	} else if cfg.Socket == units.SocketReusePort {
		sockets = append(sockets, own)
	}
	d, err := sd.Describe(ctx, unit, sockets)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader describe: %v\n", err)
		return 1
	}
	// systemd loads any app@N on demand: one beyond the configured count
	// that never ran is no instance.
	if n, ok := instanceNumber(unit); ok && n >= want && !running(d.Unit) && len(d.Recent) == 0 {
		fmt.Fprintf(o.stderr, "app-reloader describe: %s: %v: %d are configured (app@0 … app@%d) and it never ran\n", unit, ErrNoSuchInstance, want, want-1)
		return 1
	}
	d.ReadFileEnvironment(*showEnv)
	if *asJSON {
		return o.json(d)
	}
	WriteDescription(o.stdout, d, time.Now(), colorful(o.stdout))
	return 0
}

func runLogs(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("logs")
	follow := fs.Bool("f", false, "follow: keep printing new lines until interrupted")
	lines := fs.Int("n", 50, "how many of the last lines to print first")
	since := fs.String("since", "", "start at this time, as journalctl --since takes it (\"10 min ago\", \"2026-11-26 09:00\")")
	asJSON := fs.Bool("json", false, "one JSON object per line: time, unit, pid, priority, message")
	if code := o.parse(fs, args, 0, 1); code >= 0 {
		return code
	}
	if *lines < 0 {
		fmt.Fprintf(o.stderr, "app-reloader logs: -n %d: want 0 or more\n", *lines)
		return 2
	}
	opt := LogOptions{Units: []string{"app@*.service"}, Lines: *lines, Follow: *follow, Since: *since, JSON: *asJSON, Color: colorful(o.stdout)}
	if fs.NArg() == 1 {
		unit, err := InstanceUnit("app", fs.Arg(0))
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader logs: %v\n", err)
			return 2
		}
		opt.Units = []string{unit}
	}
	if err := Logs(ctx, o.stdout, opt); err != nil {
		fmt.Fprintf(o.stderr, "app-reloader logs: %v\n", err)
		return 1
	}
	return 0
}

func runTop(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("top")
	config := fs.String("config", units.DefaultConfigPath, "configuration file")
	interval := fs.Duration("interval", time.Second, "time between refreshes")
	frames := fs.Int("n", 0, "stop after this many refreshes (0: until q or Ctrl-C; 1 when stdout is not a terminal)")
	if code := o.parse(fs, args, 0, 0); code >= 0 {
		return code
	}
	if *interval < 100*time.Millisecond || *frames < 0 {
		fmt.Fprintf(o.stderr, "app-reloader top: want -interval of 100ms or more and -n of 0 or more\n")
		return 2
	}
	cfg, unreadable, ok := o.viewConfig("top", *config)
	if !ok {
		return 1
	}
	r, closeBus, ok := o.reloader(ctx, "top", cfg, *config, nil)
	if !ok {
		return 1
	}
	defer closeBus()
	want, err := count(ctx, r.Systemd.(*DBus), cfg, unreadable)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader top: %v\n", err)
		return 1
	}
	screen := isTerminal(o.stdout)
	if !screen && *frames == 0 {
		*frames = 1
	}
	opt := TopOptions{Interval: *interval, Frames: *frames, Screen: screen, Color: colorful(o.stdout)}
	if screen {
		opt.Keys = os.Stdin
	}
	if err := r.Top(ctx, o.stdout, want, opt); err != nil {
		fmt.Fprintf(o.stderr, "app-reloader top: %v\n", err)
		return 1
	}
	return 0
}
