package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

func defineTop(fs *pflag.FlagSet) runFunc {
	f := addAppFlags(fs, "configuration file")
	interval := fs.Duration("interval", time.Second, "time between refreshes")
	frames := fs.IntP("iterations", "n", 0, "stop after this many refreshes (0: until q or Ctrl-C; 1 when stdout is not a terminal)")
	return func(ctx context.Context, o *cli, args []string) int {
		c := units.App
		if len(args) == 1 {
			var ok bool
			if c, ok = o.pick("top", f, args[0]); !ok {
				return 2
			}
		}
		if *interval < 100*time.Millisecond || *frames < 0 {
			fmt.Fprintf(o.stderr, "app-reloader top: want --interval of 100ms or more and --iterations of 0 or more\n")
			return 2
		}
		v, ok := o.view(ctx, "top", c, f.configOf(c))
		if !ok {
			return 1
		}
		defer v.sd.Close()
		r := reloader.New(options(v.sd, v.cfg, f.configOf(c), o.quietLogger()))
		want := v.want
		screen := view.IsTerminal(o.stdout)
		if !screen && *frames == 0 {
			*frames = 1
		}
		opt := view.TopOptions{Interval: *interval, Frames: *frames, Screen: screen, Color: view.Colorful(o.stdout)}
		if screen {
			opt.Keys = os.Stdin
			opt.Size = func() (int, int, bool) { return view.TerminalSize(o.stdout) }
			resized, stop := view.OnResize()
			defer stop()
			opt.Resized = resized
		}
		if err := view.Top(ctx, o.stdout, func(ctx context.Context) (reloader.Status, error) { return r.Status(ctx, want) }, opt); err != nil {
			fmt.Fprintf(o.stderr, "app-reloader top: %v\n", err)
			return 1
		}
		return 0
	}
}
