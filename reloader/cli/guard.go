package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/sdbus"
)

func defineGuard(fs *pflag.FlagSet) runFunc {
	maxRestarts := fs.Int("max-restarts", reloader.DefaultMaxRestarts, "restarts allowed within the window")
	window := fs.Duration("window", reloader.DefaultGuardWindow, "the window")
	dir := fs.String("dir", reloader.DefaultGuardDir, "where start times are kept")
	socket := fs.String("socket", "", "the instance's own socket (socket = \"reuseport\"), stopped with it when it is kept down")
	stopped := fs.Bool("stopped", false, "run as ExecStopPost=: forget the instance's starts when it ended cleanly ($SERVICE_RESULT=success)")
	return func(_ context.Context, o *cli, args []string) int {
		if *maxRestarts < 0 || *window <= 0 {
			fmt.Fprintln(o.stderr, "app-reloader guard: --max-restarts must be 0 or more and --window positive")
			return 2
		}
		unit := args[0]
		if *stopped {
			// A clean stop (systemctl stop or restart, a mode switch, a
			// shutdown) is no crash: only starts that follow failures count.
			if err := reloader.Stopped(*dir, unit, os.Getenv("SERVICE_RESULT")); err != nil {
				fmt.Fprintf(o.stderr, "app-reloader guard: %v\n", err)
			}
			return 0
		}
		_, err := reloader.Guard(*dir, unit, time.Now(), *maxRestarts, *window)
		switch {
		case errors.Is(err, reloader.ErrCrashLoop):
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
}

// stopSocket enqueues the stop of an instance's socket, and of the socket
// alone: a normal stop would also stop the instance (Requires=) and so
// cancel the start job that is running this guard, which would leave the
// instance failed instead of skipped.
func stopSocket(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := sdbus.Connect(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.StopAlone(ctx, name)
}
