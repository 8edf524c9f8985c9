package reloader

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"example.com/app/units"
)

const usage = `usage: app-reloader COMMAND [flags]

commands:
  reload   apply /etc/app/app.toml and restart the instances one at a time
  status   show the socket, every instance and the last rollout
  check    validate the configuration and exit non-zero with file:line on error
  guard    (run by app@.service as ExecCondition=) refuse to start a crash-looping instance

Run "app-reloader COMMAND -h" for a command's flags.
`

// CLI runs app-reloader with args (without the program name) and returns
// the exit status: 0 done, 1 failed, 2 bad usage.
func CLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	if cmd == "guard" {
		return guardCLI(args, stderr)
	}
	fs := flag.NewFlagSet("app-reloader "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", units.DefaultConfigPath, "configuration file")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	lockPath := fs.String("lock", DefaultLockPath, "rollout lock file")
	reportPath := fs.String("report", DefaultReportPath, "where the last rollout's report is kept")
	verbose := fs.Bool("verbose", false, "log each step's D-Bus calls and timings")
	switch cmd {
	case "reload", "status", "check":
	default:
		fmt.Fprintf(stderr, "app-reloader: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "app-reloader %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := units.Load(*config)
	if err != nil {
		fmt.Fprintf(stderr, "app-reloader %s: %v\n", cmd, err)
		if cmd == "reload" {
			fmt.Fprintln(stderr, "nothing was changed: the running instances keep running")
		}
		return 1
	}
	if cmd == "check" {
		if *asJSON {
			return writeJSON(stdout, stderr, map[string]any{"ok": true, "config": *config, "instances": cfg.Count(), "listen": cfg.Listen, "socket": cfg.Socket})
		}
		fmt.Fprintf(stdout, "%s: ok (%d instances, listen %s, socket %s)\n", *config, cfg.Count(), strings.Join(cfg.ListenStrings(), ", "), cfg.Socket)
		return 0
	}

	if cmd == "reload" && os.Geteuid() != 0 {
		return delegateCLI(ctx, *config, *reportPath, *asJSON, stdout, stderr)
	}

	t0 := time.Now()
	sd, err := Connect(ctx)
	log.Debug("connected to systemd", "took", time.Since(t0))
	if err != nil {
		fmt.Fprintf(stderr, "app-reloader %s: %v\n", cmd, err)
		return 1
	}
	defer sd.Close()
	r := &Reloader{Systemd: sd, Logger: log, Hold: cfg.MinUptime.Std(), GuardDir: DefaultGuardDir,
		Surge: cfg.Surge, MemoryLimit: cfg.MaxMemoryRestart.Bytes(),
		Listen: cfg.SocketListen(), InstanceListen: cfg.InstanceListen()}
	files := &FileState{Config: cfg, Source: *config}
	r.Unchanged, r.Reloaded = files.Unchanged, files.Reloaded
	if cfg.ProbePath != "" {
		r.Probe = &Probe{Path: string(cfg.ProbePath), Timeout: cfg.ProbeTimeout.Std()}
	}

	if cmd == "status" {
		st, err := r.Status(ctx, cfg.Count())
		if err != nil {
			fmt.Fprintf(stderr, "app-reloader status: %v\n", err)
			return 1
		}
		if st.LastRollout, err = LoadReport(*reportPath); err != nil {
			fmt.Fprintf(stderr, "app-reloader status: %v\n", err)
		}
		if *asJSON {
			return writeJSON(stdout, stderr, st)
		}
		WriteStatus(stdout, st, time.Now())
		return 0
	}

	unlock, err := Lock(*lockPath)
	if err != nil {
		fmt.Fprintf(stderr, "app-reloader reload: %v\n", err)
		return 1
	}
	defer unlock()
	progress := stdout
	if *asJSON {
		progress = stderr
	}
	r.Progress = func(e Event) { WriteEvent(progress, e) }
	fmt.Fprintf(progress, "rolling %d instances of %s\n", cfg.Count(), strings.Join(cfg.ListenStrings(), ", "))
	rep, rerr := r.Reload(ctx, cfg.Count())
	if err := SaveReport(*reportPath, rep); err != nil {
		fmt.Fprintf(stderr, "app-reloader reload: %v\n", err)
	}
	if *asJSON {
		writeJSON(stdout, stderr, rep)
	} else {
		WriteReport(stdout, rep)
	}
	if rerr != nil {
		fmt.Fprintf(stderr, "app-reloader reload: %v\n", rerr)
		return 1
	}
	return 0
}

// delegateCLI is `app-reloader reload` run by someone other than root: the
// rollout itself runs as root, in app-reload.service.
func delegateCLI(ctx context.Context, config, reportPath string, asJSON bool, stdout, stderr io.Writer) int {
	if config != units.DefaultConfigPath {
		fmt.Fprintf(stderr, "app-reloader reload: -config %s: without root, a rollout runs as root through %s and applies %s\n", config, ReloadUnit, units.DefaultConfigPath)
		return 2
	}
	sd, err := Connect(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "app-reloader reload: %v\n", err)
		return 1
	}
	defer sd.Close()
	progress := stdout
	if asJSON {
		progress = stderr
	}
	fmt.Fprintf(progress, "not root: asking systemd to reload %s, which rolls the instances as root…\n", ReloadUnit)
	rep, err := Delegate(ctx, sd, reportPath)
	if rep != nil {
		if asJSON {
			writeJSON(stdout, stderr, rep)
		} else {
			WriteReport(stdout, *rep)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "app-reloader reload: %v\n", err)
		if errors.Is(err, ErrNotAllowed) || errors.Is(err, ErrNotRunning) {
			fmt.Fprintln(stderr, "nothing was changed: the running instances keep running")
		}
		return 1
	}
	return 0
}

// guardCLI is `app-reloader guard UNIT`: exit 0 lets systemd start the
// instance, exit 1 makes it skip the start (ExecCondition=).
func guardCLI(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("app-reloader guard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	maxRestarts := fs.Int("max-restarts", DefaultMaxRestarts, "restarts allowed within the window")
	window := fs.Duration("window", DefaultGuardWindow, "the window")
	dir := fs.String("dir", DefaultGuardDir, "where start times are kept")
	socket := fs.String("socket", "", "the instance's own socket (socket = \"reuseport\"), stopped with it when it is kept down")
	stopped := fs.Bool("stopped", false, "run as ExecStopPost=: forget the instance's starts when it ended cleanly ($SERVICE_RESULT=success)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *maxRestarts < 0 || *window <= 0 {
		fmt.Fprintln(stderr, "usage: app-reloader guard [-max-restarts N] [-window D] [-socket SOCKET] UNIT\n       app-reloader guard -stopped UNIT")
		return 2
	}
	unit := fs.Arg(0)
	if *stopped {
		// A clean stop (systemctl stop or restart, a mode switch, a
		// shutdown) is no crash: only starts that follow failures count.
		if err := Stopped(*dir, unit, os.Getenv("SERVICE_RESULT")); err != nil {
			fmt.Fprintf(stderr, "app-reloader guard: %v\n", err)
		}
		return 0
	}
	_, err := Guard(*dir, unit, time.Now(), *maxRestarts, *window)
	switch {
	case errors.Is(err, ErrCrashLoop):
		fmt.Fprintf(stderr, "%v: not starting it again; the other instances keep serving. Fix it, then run: app-reloader reload\n", err)
		if *socket != "" {
			// Its own socket would keep queueing a share of the new
			// connections for an instance that does not come back.
			if serr := stopSocket(*socket); serr != nil {
				fmt.Fprintf(stderr, "app-reloader guard: %v\n", serr)
			} else {
				fmt.Fprintf(stderr, "stopping %s too: new connections go to the other instances\n", *socket)
			}
		}
		return 1
	case err != nil:
		// Never keep a healthy instance down because of the guard itself.
		fmt.Fprintf(stderr, "app-reloader guard: %v (starting %s anyway)\n", err, unit)
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

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "app-reloader: %v\n", err)
		return 1
	}
	return 0
}
