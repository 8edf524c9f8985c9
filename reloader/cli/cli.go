package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/sdbus"
	"example.com/app/units"
)

// runFunc runs a command whose flags are parsed, with its arguments, and
// returns the exit status.
type runFunc func(ctx context.Context, o *cli, args []string) int

// command is one of app-reloader's commands.
type command struct {
	name    string
	aliases []string // pm2's words for it (list, ls, show, monit)
	args    string   // what follows the flags in the usage line
	summary string
	more    string // said after the flags in its help
	// minArgs and maxArgs bound the arguments after the flags.
	minArgs, maxArgs int
	// define adds the command's flags to fs and returns what runs it.
	define func(fs *pflag.FlagSet) runFunc
	// complete suggests its arguments (shell completion).
	complete completer
	// rollout: it changes the instances one at a time, and an interrupt
	// lets the one in progress finish.
	rollout bool
	hidden  bool
}

// commands, in the order `app-reloader help` lists them.
var commands = []command{
	{name: "reload", args: "[APP]", summary: "apply an app's configuration and restart its instances one at a time; every app, one after the other, without APP (pm2 reload)", maxArgs: 1, define: defineReload, complete: completeApps, rollout: true},
	{name: "status", aliases: []string{"list", "ls"}, args: "[APP]", summary: "show the socket, every instance and the last rollout, of every app or one (pm2 list)", maxArgs: 1, define: defineStatus, complete: completeApps},
	{name: "describe", aliases: []string{"show"}, args: "[APP:]INSTANCE", summary: "show one instance: unit, command, environment, socket, limits, recent restarts (pm2 describe)", minArgs: 1, maxArgs: 1, define: defineDescribe, complete: completeInstances},
	{name: "logs", aliases: []string{"log"}, args: "[APP | [APP:]INSTANCE]", summary: "show the instances' journal merged, each line prefixed with its instance (pm2 logs)", maxArgs: 1, define: defineLogs, complete: completeLogs},
	{name: "top", aliases: []string{"monit"}, args: "[APP]", summary: "a live view of every instance: state, CPU, memory, restarts, requests per second (pm2 monit)", maxArgs: 1, define: defineTop, complete: completeApps},
	{name: "scale", args: "[APP] COUNT", summary: "set an app's number of instances in its configuration and start or stop the difference (pm2 scale)", more: scaleMore, minArgs: 1, maxArgs: 2, define: defineScale, complete: completeScale, rollout: true},
	{name: "deploy", args: "--host HOST[,HOST…] FILE.deb", summary: "install a new package on other machines over ssh, one after another; each rolls its cluster as it installs", minArgs: 1, maxArgs: 1, define: defineDeploy, complete: completeFiles("deb"), rollout: true},
	{name: "check", aliases: []string{"validate"}, args: "[APP]", summary: "validate every app's configuration, or one; exit non-zero with file:line on error", maxArgs: 1, define: defineCheck, complete: completeApps},
	{name: "import-pm2", args: "FILE", summary: "translate a pm2 ecosystem file (JSON, YAML, JavaScript) into app.toml, listing what it cannot map", minArgs: 1, maxArgs: 1, define: defineImportPM2, complete: completeFiles("json", "yml", "yaml", "js", "cjs", "mjs")},
	{name: "metrics", args: "[APP]", summary: "every app's instances and rollouts in Prometheus' text format, on stdout or (--textfile) where Debian's node exporter collects them", maxArgs: 1, define: defineMetrics, complete: completeApps},
	{name: "steer", args: "in|out UNIT", summary: "(run by app@.service with socket = \"reuseport\") send new connections only to the instances that serve", more: steerMore, minArgs: 2, maxArgs: 2, define: defineSteer, complete: completeNothing},
	{name: "guard", args: "UNIT", summary: "(run by app@.service as ExecCondition=) refuse to start a crash-looping instance", minArgs: 1, maxArgs: 1, define: defineGuard, complete: completeNothing},
}

func init() {
	// help lists the commands in the order of [commands].
	cobra.EnableCommandSorting = false
}

// Version is app-reloader's version, as --version prints it; main sets it
// from the build's -X main.version.
var Version = "dev"

// Commands are the names of app-reloader's commands, as help lists them
// (help and completion included).
func Commands() []string {
	var names []string
	for _, c := range newRoot(&cli{stdout: io.Discard, stderr: io.Discard}).Commands() {
		if !c.Hidden {
			names = append(names, c.Name())
		}
	}
	return names
}

// IsRollout reports whether the command args run is a rollout (reload,
// scale, deploy): one that changes instances one at a time, and that an
// interrupt lets finish the instance in progress.
func IsRollout(args []string) bool {
	if len(args) == 0 {
		return false
	}
	c := lookup(args[0])
	return c != nil && c.rollout
}

// lookup finds a command by name or alias.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name || slices.Contains(commands[i].aliases, name) {
			return &commands[i]
		}
	}
	return nil
}

// cli is one run of app-reloader: where it writes, and its exit status.
type cli struct {
	stdout, stderr io.Writer
	code           int
}

// usageError is bad usage: said with the command's usage, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errExit ends a command that has said why it failed, with o.code.
var errExit = errors.New("exit")

// CLI runs app-reloader with args (without the program name) and returns
// the exit status: 0 done, 1 failed, 2 bad usage.
//
// Flags go anywhere among the arguments, GNU style (--json, -n 5, --
// ends them); a long flag also takes one dash (-json), as app-reloader's
// first releases and the scripts written for them have it.
func CLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &cli{stdout: stdout, stderr: stderr}
	root := newRoot(o)
	if len(args) == 0 {
		o.usage(root, stderr)
		return 2
	}
	root.SetArgs(normalize(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	var ue usageError
	switch {
	case err == nil || errors.Is(err, errExit):
		return o.code
	case errors.As(err, &ue):
	case strings.HasPrefix(err.Error(), "unknown command"):
		ue = usageError{msg: err.Error()}
		cmd = root
	default: // a flag cobra refused before ours were parsed
		ue = usageError{msg: err.Error()}
	}
	name := "app-reloader"
	if cmd != nil && cmd != root {
		name += " " + cmd.Name()
	}
	fmt.Fprintf(stderr, "%s: %s\n\n", name, ue.msg)
	o.usage(cmd, stderr)
	return 2
}

// newRoot is app-reloader's command tree, for o.
func newRoot(o *cli) *cobra.Command {
	root := &cobra.Command{
		Use:     "app-reloader",
		Short:   "roll the cluster's instances one at a time, and show their state",
		Version: Version,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{msg: fmt.Sprintf("unknown command %q", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.usage(cmd, o.stderr)
			o.code = 2
			return errExit
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	root.SetOut(o.stdout)
	root.SetErr(o.stderr)
	root.SetVersionTemplate("app-reloader {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{msg: err.Error()} })
	root.SetHelpFunc(func(cmd *cobra.Command, _ []string) { o.usage(cmd, cmd.OutOrStdout()) })
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [COMMAND]",
		Short: "show this list, or a command's flags",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{msg: fmt.Sprintf("unexpected argument %q", args[1])}
			}
			if len(args) == 1 && lookup(args[0]) == nil && args[0] != "help" && args[0] != "completion" {
				return usageError{msg: fmt.Sprintf("unknown command %q", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target := cmd.Root()
			if len(args) == 1 {
				target, _, _ = cmd.Root().Find(args)
			}
			o.usage(target, o.stdout)
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, c := range cmd.Root().Commands() {
				if !c.Hidden {
					names = append(names, cobra.CompletionWithDesc(c.Name(), c.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	})
	for i := range commands {
		c := &commands[i]
		cmd := &cobra.Command{
			Use:     c.name + " " + c.args,
			Aliases: c.aliases,
			Short:   c.summary,
			Hidden:  c.hidden,
			Args: func(_ *cobra.Command, args []string) error {
				switch {
				case len(args) < c.minArgs:
					return usageError{msg: "missing argument"}
				case len(args) > c.maxArgs:
					return usageError{msg: fmt.Sprintf("unexpected argument %q", args[c.maxArgs])}
				}
				return nil
			},
			ValidArgsFunction: c.complete,
			SilenceErrors:     true,
			SilenceUsage:      true,
		}
		cmd.Flags().SortFlags = false
		run := c.define(cmd.Flags())
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if o.code = run(cmd.Context(), o, args); o.code != 0 {
				return errExit
			}
			return nil
		}
		registerFlagCompletions(cmd)
		root.AddCommand(cmd)
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		c.Short = "print the completion script for bash, zsh, fish or powershell (the package installs the first three)"
	}
	return root
}

// usage writes cmd's help: its usage line, what it does, its flags.
func (o *cli) usage(cmd *cobra.Command, w io.Writer) {
	if cmd == nil || !cmd.HasParent() {
		fmt.Fprint(w, "usage: app-reloader COMMAND [flags] [arguments]\n\ncommands:\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if cmd != nil {
			for _, c := range cmd.Commands() {
				if c.Hidden {
					continue
				}
				name := c.Name()
				if len(c.Aliases) > 0 {
					name += " (" + strings.Join(c.Aliases, ", ") + ")"
				}
				fmt.Fprintf(tw, "  %s\t%s\n", name, c.Short)
			}
		}
		tw.Flush()
		fmt.Fprint(w, "\nflags:\n  -h, --help      this list\n  -v, --version   the version\n")
		fmt.Fprint(w, "\nRun \"app-reloader COMMAND --help\" for a command's flags; \"man app-reloader\" for more.\n")
		return
	}
	path := strings.TrimPrefix(cmd.CommandPath(), "app-reloader ")
	args := strings.TrimSpace(strings.TrimPrefix(cmd.Use, cmd.Name()))
	fmt.Fprintf(w, "usage: app-reloader %s [flags]", path)
	if args != "" {
		fmt.Fprintf(w, " %s", args)
	}
	fmt.Fprintf(w, "\n\n%s\n", cmd.Short)
	if len(cmd.Aliases) > 0 {
		fmt.Fprintf(w, "\naliases: %s\n", strings.Join(cmd.Aliases, ", "))
	}
	if cmd.Flags().Lookup("help") == nil {
		cmd.InitDefaultHelpFlag()
	}
	if fl := cmd.LocalFlags().FlagUsages(); fl != "" {
		fmt.Fprintf(w, "\nflags:\n%s", fl)
	}
	if c := lookup(cmd.Name()); c != nil && c.more != "" && cmd.Parent() == cmd.Root() {
		fmt.Fprint(w, c.more)
	}
}

// longFlag is a long flag written with one dash: -json, -wait-lock=10m.
var longFlag = regexp.MustCompile(`^-([a-z][a-z0-9-]+)(=.*)?$`)

// normalize rewrites args for cobra: a long flag with one dash (-json)
// gets its second, and scale's -N (a count, not a flag) goes after --.
func normalize(root *cobra.Command, args []string) []string {
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		// The shell asks how to complete a command line: read it as that
		// command reads it.
		return append(args[:1:1], normalize(root, args[1:])...)
	}
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	out := make([]string, 0, len(args)+1)
	var counts []string
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			return append(out, counts...)
		}
		if m := longFlag.FindStringSubmatch(a); m != nil && (cmd.Flags().Lookup(m[1]) != nil || m[1] == "help" || m[1] == "version" && !cmd.HasParent()) {
			a = "-" + a
		} else if cmd.Name() == "scale" && relative.MatchString(a) && a[0] == '-' {
			counts = append(counts, a)
			continue
		}
		out = append(out, a)
	}
	if len(counts) > 0 {
		out = append(append(out, "--"), counts...)
	}
	return out
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
