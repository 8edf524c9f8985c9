package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

func defineDescribe(fs *pflag.FlagSet) runFunc {
	f := addAppFlags(fs, "configuration file")
	asJSON := fs.Bool("json", false, "print the description as JSON on stdout")
	showEnv := fs.Bool("show-env", false, "show the values of the environment from app.toml's [env] (root only), masked otherwise")
	return func(ctx context.Context, o *cli, args []string) int {
		c, unit, ok := o.appInstance("describe", f, args[0])
		if !ok {
			return 2
		}
		v, ok := o.view(ctx, "describe", c, f.configOf(c))
		if !ok {
			return 1
		}
		defer v.sd.Close()
		cfg, unreadable, sd, want := v.cfg, v.unreadable, v.sd, v.want
		sockets := []string{c.Socket()}
		own := c.SocketOf(unit)
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
		if n, ok := c.InstanceNumber(unit); ok && n >= want && !d.Unit.Running() && len(d.Recent) == 0 {
			fmt.Fprintf(o.stderr, "app-reloader describe: %s: %v: %d are configured (%s@0 … %s@%d) and it never ran\n", unit, reloader.ErrNoSuchInstance, want, c.Name, c.Name, want-1)
			return 1
		}
		d.ReadFileEnvironment(*showEnv)
		if *asJSON {
			return o.json(d)
		}
		view.WriteDescription(o.stdout, d, time.Now(), view.Colorful(o.stdout))
		return 0
	}
}
