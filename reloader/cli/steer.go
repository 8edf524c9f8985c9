package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"example.com/app/reloader/steer"
)

const steerMore = `With socket = "reuseport", app@.service runs "steer in" after the
instance's READY=1 (ExecStartPost=) and "steer out" before it is stopped
(ExecStop=): the instances that serve then take new connections in turn,
and one that is restarting or gone gets none. Where the kernel or a sandbox
has no eBPF for it, it says so and the kernel's own hash applies, as before.`

func defineSteer(fs *pflag.FlagSet) runFunc {
	pid := fs.Int("pid", 0, "the instance's main process (default: $MAINPID, which systemd sets)")
	return func(_ context.Context, o *cli, args []string) int {
		verb, unit := args[0], args[1]
		cluster, slot, err := steer.ParseUnit(unit)
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader steer: %v\n", err)
			return 2
		}
		var socks []int
		switch verb {
		case "in":
			p := *pid
			if p == 0 {
				p, _ = strconv.Atoi(os.Getenv("MAINPID"))
			}
			if p <= 0 {
				fmt.Fprintln(o.stderr, "app-reloader steer in: no main process: give --pid (systemd sets $MAINPID for ExecStartPost=)")
				return 2
			}
			socks, err = steer.SocketsOf(p)
			if errors.Is(err, steer.ErrNoSocket) {
				fmt.Fprintf(o.stderr, "app-reloader steer: %s: its main process %v: with socket = \"reuseport\" the worker must serve every socket systemd passes it (LISTEN_FDS; its own is the last)\n", unit, strings.TrimPrefix(err.Error(), fmt.Sprintf("process %d ", p)))
				return 1
			}
			defer steer.CloseAll(socks)
		case "out":
		default:
			fmt.Fprintf(o.stderr, "app-reloader steer: %q: want in or out\n", verb)
			return 2
		}
		if err == nil {
			err = steerChange(cluster, slot, socks)
		}
		if errors.Is(err, steer.ErrUnsupported) {
			// Never keep an instance down for want of steering.
			fmt.Fprintf(o.stderr, "app-reloader steer: %s: %v; the kernel's own hash spreads new connections over every instance's socket\n", unit, err)
			return 0
		}
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader steer %s %s: %v\n", verb, unit, err)
			return 1
		}
		return 0
	}
}

// steerChange puts slot in (with its sockets) or takes it out.
func steerChange(cluster string, slot int, socks []int) error {
	s, err := steer.Open(steer.StatePath(cluster))
	if err != nil {
		return err
	}
	defer s.Close()
	if socks != nil {
		return s.In(slot, socks)
	}
	return s.Out(slot)
}
