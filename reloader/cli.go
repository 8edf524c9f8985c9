package reloader

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
	"strings"
	"text/tabwriter"

	"example.com/app/units"
)

// command is one of app-reloader's commands.
type command struct {
	name    string
	args    string // what follows the flags in the usage line
	summary string
	run     func(ctx context.Context, o *cli, args []string) int
}

// commands, in the order `app-reloader help` lists them. Set in init:
// help refers to the list.
var commands []command

func init() {
	commands = []command{
		{"reload", "", "apply /etc/app/app.toml and restart the instances one at a time (pm2 reload)", runReload},
		{"status", "", "show the socket, every instance and the last rollout (pm2 list)", runStatus},
		{"describe", "INSTANCE", "show one instance: unit, command, environment, socket, limits, recent restarts (pm2 describe)", runDescribe},
		{"logs", "[INSTANCE]", "show the instances' journal merged, each line prefixed with its instance (pm2 logs)", runLogs},
		{"top", "", "a live view of every instance: state, CPU, memory, restarts, requests per second (pm2 monit)", runTop},
		{"scale", "COUNT", "set the number of instances in /etc/app/app.toml and start or stop the difference (pm2 scale)", runScale},
		{"deploy", "-host HOST[,HOST…] FILE.deb", "install a new package on other machines over ssh, one after another; each rolls its cluster as it installs", runDeploy},
		{"check", "", "validate the configuration; exit non-zero with file:line on error", runCheck},
		{"import-pm2", "FILE", "translate a pm2 ecosystem file (JSON) into app.toml, listing what it cannot map", runImportPM2},
		{"guard", "UNIT", "(run by app@.service as ExecCondition=) refuse to start a crash-looping instance", runGuard},
		{"help", "[COMMAND]", "show this list, or a command's flags", runHelp},
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

func runHelp(_ context.Context, o *cli, args []string) int {
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		fs := o.flags("help")
		fs.SetOutput(o.stdout)
		fs.Usage()
		return 0
	case len(args) == 0:
		o.usage(o.stdout)
		return 0
	case lookup(args[0]) == nil:
		fmt.Fprintf(o.stderr, "app-reloader help: unknown command %q\n", args[0])
		return 2
	}
	return lookup(args[0]).run(context.Background(), o, []string{"-h"})
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

// config loads the configuration, saying what is wrong with it.
func (o *cli) config(cmd, path string) (units.Config, bool) {
	cfg, err := units.Load(path)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		if cmd == "reload" || cmd == "scale" {
			fmt.Fprintln(o.stderr, "nothing was changed: the running instances keep running")
		}
		return units.Config{}, false
	}
	return cfg, true
}

// viewConfig loads the configuration for a command that only shows the
// cluster. app.toml holds secrets ([env]) and is readable by root only:
// someone else gets the defaults and unreadable set, and counts the
// instances from systemd instead ([DBus.wantedInstances]).
func (o *cli) viewConfig(cmd, path string) (cfg units.Config, unreadable, ok bool) {
	cfg, err := units.Load(path)
	if errors.Is(err, fs.ErrPermission) && os.Geteuid() != 0 {
		return units.Default(), true, true
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return units.Config{}, false, false
	}
	return cfg, false, true
}

// count is the number of configured instances: from the configuration,
// or when it is unreadable, from what app.target wants.
func count(ctx context.Context, d *DBus, cfg units.Config, unreadable bool) (int, error) {
	if unreadable {
		return d.wantedInstances(ctx)
	}
	return cfg.Count(), nil
}

// reloader connects to systemd and sets up a Reloader for cfg.
func (o *cli) reloader(ctx context.Context, cmd string, cfg units.Config, source string, log *slog.Logger) (*Reloader, func(), bool) {
	sd, err := Connect(ctx)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return nil, nil, false
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	r := &Reloader{Systemd: sd, Logger: log, Hold: cfg.MinUptime.Std(), CanaryHold: cfg.CanaryUptime.Std(), GuardDir: DefaultGuardDir,
		Surge: cfg.Surge, MemoryLimit: cfg.MaxMemoryRestart.Bytes(),
		Listen: cfg.SocketListen(), InstanceListen: cfg.InstanceListen()}
	files := &FileState{Config: cfg, Source: source}
	r.Unchanged, r.Reloaded = files.Unchanged, files.Reloaded
	if cfg.ProbePath != "" {
		r.Probe = &Probe{Path: string(cfg.ProbePath), Timeout: cfg.ProbeTimeout.Std()}
	}
	return r, sd.Close, true
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

// InstanceUnit reads an instance as a person names it: 0, app@0,
// app@0.service or spare.
func InstanceUnit(prefix, arg string) (string, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(arg, prefix+"@"), ".service")
	if name == "spare" {
		return prefix + "@spare.service", nil
	}
	if name == "" || strings.Trim(name, "0123456789") != "" || len(name) > 1 && name[0] == '0' {
		return "", fmt.Errorf("instance %q: want its number (0), %s@0 or %s@0.service", arg, prefix, prefix)
	}
	return prefix + "@" + name + ".service", nil
}

func runCheck(_ context.Context, o *cli, args []string) int {
	fs := o.flags("check")
	config := fs.String("config", units.DefaultConfigPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if code := o.parse(fs, args, 0, 0); code >= 0 {
		return code
	}
	cfg, ok := o.config("check", *config)
	if !ok {
		return 1
	}
	if fi, err := os.Stat(*config); err == nil && len(cfg.Env) > 0 && fi.Mode().Perm()&0o004 != 0 {
		fmt.Fprintf(o.stderr, "app-reloader check: warning: %s holds [env] and every local user can read it: chmod o-rwx %s\n", *config, *config)
	}
	if *asJSON {
		return o.json(map[string]any{"ok": true, "config": *config, "instances": cfg.Count(), "listen": cfg.Listen, "socket": cfg.Socket})
	}
	fmt.Fprintf(o.stdout, "%s: ok (%d instances, listen %s, socket %s)\n", *config, cfg.Count(), strings.Join(cfg.ListenStrings(), ", "), cfg.Socket)
	return 0
}

func runImportPM2(_ context.Context, o *cli, args []string) int {
	fs := o.flags("import-pm2")
	app := fs.String("app", "", "the app to import, by its pm2 name, when the file has several")
	env := fs.String("env", "", "also merge env_`NAME` over env, as pm2 start --env NAME does")
	outPath := fs.String("o", "", "write app.toml to this `file` (refused if it exists) instead of stdout")
	asJSON := fs.Bool("json", false, "print the result (toml, unmapped, notes) as JSON on stdout")
	if code := o.parse(fs, args, 1, 1); code >= 0 {
		return code
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\n", err)
		return 1
	}
	im, err := units.ImportPM2(fs.Arg(0), data, *app, *env)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\n", err)
		return 1
	}
	switch {
	case *asJSON:
		return o.json(im)
	case *outPath != "":
		f, err := os.OpenFile(*outPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, err = f.WriteString(im.TOML)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\n", err)
			return 1
		}
		fmt.Fprintf(o.stderr, "wrote %s (pm2 app %q)\n", *outPath, im.App)
	default:
		fmt.Fprint(o.stdout, im.TOML)
	}
	for _, n := range im.Notes {
		fmt.Fprintf(o.stderr, "note: %s: %s\n", n.Key, n.Why)
	}
	for _, u := range im.Unmapped {
		fmt.Fprintf(o.stderr, "not imported: %s: %s\n", u.Key, u.Why)
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
