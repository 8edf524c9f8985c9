package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"text/tabwriter"

	"example.com/app/reloader"
	"example.com/app/reloader/sdbus"
	"example.com/app/units"
)

// command is one of app-reloader's commands.
type command struct {
	name    string
	args    string // what follows the flags in the usage line
	summary string
	run     func(ctx context.Context, o *cli, args []string) int
	// rollout: it changes the instances one at a time, and an interrupt
	// lets the one in progress finish.
	rollout bool
}

// commands, in the order `app-reloader help` lists them. Set in init:
// help refers to the list.
var commands []command

func init() {
	commands = []command{
		{"reload", "[APP]", "apply an app's configuration and restart its instances one at a time; every app, one after the other, without APP (pm2 reload)", runReload, true},
		{"status", "[APP]", "show the socket, every instance and the last rollout, of every app or one (pm2 list)", runStatus, false},
		{"describe", "[APP:]INSTANCE", "show one instance: unit, command, environment, socket, limits, recent restarts (pm2 describe)", runDescribe, false},
		{"logs", "[APP | [APP:]INSTANCE]", "show the instances' journal merged, each line prefixed with its instance (pm2 logs)", runLogs, false},
		{"top", "[APP]", "a live view of every instance: state, CPU, memory, restarts, requests per second (pm2 monit)", runTop, false},
		{"scale", "[APP] COUNT", "set an app's number of instances in its configuration and start or stop the difference (pm2 scale)", runScale, true},
		{"deploy", "-host HOST[,HOST…] FILE.deb", "install a new package on other machines over ssh, one after another; each rolls its cluster as it installs", runDeploy, true},
		{"check", "[APP]", "validate every app's configuration, or one; exit non-zero with file:line on error", runCheck, false},
		{"import-pm2", "FILE", "translate a pm2 ecosystem file (JSON, YAML, JavaScript) into app.toml, listing what it cannot map", runImportPM2, false},
		{"guard", "UNIT", "(run by app@.service as ExecCondition=) refuse to start a crash-looping instance", runGuard, false},
		{"help", "[COMMAND]", "show this list, or a command's flags", runHelp, false},
	}
}

// Commands are the names of app-reloader's commands.
func Commands() []string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return names
}

// IsRollout reports whether command name is a rollout (reload, scale,
// deploy): one that changes instances one at a time, and that an
// interrupt lets finish the instance in progress.
func IsRollout(name string) bool {
	c := lookup(name)
	return c != nil && c.rollout
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// cli is one run of app-reloader: where it writes.
type cli struct {
	stdout, stderr io.Writer
}

// CLI runs app-reloader with args (without the program name) and returns
// the exit status: 0 done, 1 failed, 2 bad usage.
func CLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &cli{stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		o.usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		args[0] = "help"
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "app-reloader: unknown command %q\n\n", args[0])
		o.usage(stderr)
		return 2
	}
	return c.run(ctx, o, args[1:])
}

func (o *cli) usage(w io.Writer) {
	fmt.Fprint(w, "usage: app-reloader COMMAND [flags] [arguments]\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun \"app-reloader COMMAND -h\" for a command's flags; \"man app-reloader\" for more.\n")
}

// flags is the flag set of command name, with its usage.
func (o *cli) flags(name string) *flag.FlagSet {
	c := lookup(name)
	fs := flag.NewFlagSet("app-reloader "+name, flag.ContinueOnError)
	fs.SetOutput(o.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: app-reloader %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses a command's flags and checks the number of arguments left.
// It returns -1 to go on, or the exit status.
func (o *cli) parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int) int {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			// Asked for: the usage is the output, on stdout.
			fs.SetOutput(o.stdout)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if n := fs.NArg(); n < minArgs || n > maxArgs {
		if n > maxArgs {
			fmt.Fprintf(o.stderr, "%s: unexpected argument %q\n\n", fs.Name(), fs.Arg(maxArgs))
		} else {
			fmt.Fprintf(o.stderr, "%s: missing argument\n\n", fs.Name())
		}
		fs.Usage()
		return 2
	}
	return -1
}

// config loads app c's configuration from path, saying what is wrong with
// it.
func (o *cli) config(cmd string, c units.Cluster, path string) (units.Config, bool) {
	cfg, err := units.Load(path)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		if cmd == "reload" || cmd == "scale" {
			fmt.Fprintln(o.stderr, "nothing was changed: the running instances keep running")
		}
		return units.Config{}, false
	}
	cfg = cfg.Of(c)
	if cmd == "check" || cmd == "reload" {
		for _, a := range cfg.Advice() {
			fmt.Fprintf(o.stderr, "app-reloader %s: warning: %s%s\n", cmd, appPrefix(c), a)
		}
	}
	return cfg, true
}

// viewConfig loads the configuration for a command that only shows the
// cluster. app.toml holds secrets ([env]) and is readable by root only:
// someone else gets the defaults and unreadable set, and counts the
// instances from systemd instead ([count]).
func (o *cli) viewConfig(cmd string, c units.Cluster, path string) (cfg units.Config, unreadable, ok bool) {
	cfg, err := units.Load(path)
	if errors.Is(err, fs.ErrPermission) && os.Geteuid() != 0 {
		return units.Default().Of(c), true, true
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return units.Config{}, false, false
	}
	return cfg.Of(c), false, true
}

// count is the number of configured instances: from the configuration,
// or when it is unreadable, from what the cluster's target wants.
func count(ctx context.Context, d *sdbus.DBus, cfg units.Config, unreadable bool) (int, error) {
	if !unreadable {
		return cfg.Count(), nil
	}
	c := cfg.Cluster()
	return d.Wanted(ctx, c.Target(), func(u string) bool { _, ok := c.InstanceNumber(u); return ok })
}

// viewed is the cluster as a command that shows it (status, describe,
// top) finds it: its configuration, whether that could be read, the
// connection to systemd, and the configured count.
type viewed struct {
	cfg        units.Config
	unreadable bool
	sd         *sdbus.DBus
	want       int
}

// view reads the configuration (see viewConfig), connects to systemd and
// counts the configured instances; the caller closes v.sd.
func (o *cli) view(ctx context.Context, cmd string, c units.Cluster, config string) (*viewed, bool) {
	v := &viewed{}
	var ok bool
	if v.cfg, v.unreadable, ok = o.viewConfig(cmd, c, config); !ok {
		return nil, false
	}
	if v.sd, ok = o.connect(cmd, ctx); !ok {
		return nil, false
	}
	var err error
	if v.want, err = count(ctx, v.sd, v.cfg, v.unreadable); err != nil {
		v.sd.Close()
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return nil, false
	}
	return v, true
}

// connect connects to this machine's systemd, saying what failed.
func (o *cli) connect(cmd string, ctx context.Context) (*sdbus.DBus, bool) {
	sd, err := sdbus.Connect(ctx)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return nil, false
	}
	return sd, true
}

// options are the Reloader options of the cluster cfg configures, over
// sd; source is the configuration file.
func options(sd reloader.Systemd, cfg units.Config, source string, log *slog.Logger) reloader.Options {
	c := cfg.Cluster()
	o := reloader.Options{
		Systemd: sd, Cluster: c, Logger: log,
		Hold: cfg.MinUptime.Std(), CanaryHold: cfg.CanaryUptime.Std(), GuardDir: reloader.DefaultGuardDir,
		Surge: cfg.Surge, MemoryLimit: cfg.MaxMemoryRestart.Bytes(),
		Files:  &reloader.FileState{Config: cfg, Source: source, AppliedPath: c.AppliedConfigPath()},
		Listen: cfg.SocketListen(), InstanceListen: cfg.InstanceListen(),
		Owner: fileOwner,
	}
	if cfg.ProbePath != "" {
		o.Probe = &reloader.Probe{Path: string(cfg.ProbePath), Timeout: cfg.ProbeTimeout.Std(), Dir: c.ProbeDir()}
	}
	return o
}

// quietLogger logs warnings and errors only.
func (o *cli) quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func (o *cli) json(v any) int {
	enc := json.NewEncoder(o.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(o.stderr, "app-reloader: %v\n", err)
		return 1
	}
	return 0
}

// verboseLogger logs each step's D-Bus calls with -verbose.
func verboseLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// fileOwner names the user that owns path, or "" if unknown.
func fileOwner(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}
