package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"example.com/app/reloader"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

func runTop(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("top")
	f := addAppFlags(fs, "configuration file")
	interval := fs.Duration("interval", time.Second, "time between refreshes")
	frames := fs.Int("n", 0, "stop after this many refreshes (0: until q or Ctrl-C; 1 when stdout is not a terminal)")
	if code := o.parse(fs, args, 0, 1); code >= 0 {
		return code
	}
	c := units.App
	if fs.NArg() == 1 {
		var ok bool
		if c, ok = o.pick("top", f, fs.Arg(0)); !ok {
			return 2
		}
	}
	if *interval < 100*time.Millisecond || *frames < 0 {
		fmt.Fprintf(o.stderr, "app-reloader top: want -interval of 100ms or more and -n of 0 or more\n")
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
	}
	if err := view.Top(ctx, o.stdout, func(ctx context.Context) (reloader.Status, error) { return r.Status(ctx, want) }, opt); err != nil {
		fmt.Fprintf(o.stderr, "app-reloader top: %v\n", err)
		return 1
	}
	return 0
}
