package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"example.com/app/reloader/journal"
	"example.com/app/reloader/view"
	"example.com/app/units"
)

func defineLogs(fs *pflag.FlagSet) runFunc {
	follow := fs.BoolP("follow", "f", false, "follow: keep printing new lines until interrupted")
	lines := fs.IntP("lines", "n", 50, "how many of the last lines to print first")
	since := fs.String("since", "", "start at this time, as journalctl --since takes it (\"10 min ago\", \"2026-11-26 09:00\")")
	priority := fs.StringP("priority", "p", "", "only lines of this priority or more urgent, as journalctl -p takes it (err, warning, 3, warning..err)")
	asJSON := fs.Bool("json", false, "one JSON object per line: time, unit, pid, priority, message")
	f := addAppFlags(fs, "configuration file")
	return func(ctx context.Context, o *cli, args []string) int {
		if *lines < 0 {
			fmt.Fprintf(o.stderr, "app-reloader logs: --lines %d: want 0 or more\n", *lines)
			return 2
		}
		if *priority != "" {
			if err := journal.CheckPriority(*priority); err != nil {
				fmt.Fprintf(o.stderr, "app-reloader logs: --priority: %v\n", err)
				return 2
			}
		}
		sel := journal.Options{Units: []string{units.App.Instances()}, Lines: *lines, Follow: *follow, Since: *since, Priority: *priority}
		if len(args) == 1 {
			// An app (api: its instances), or an instance ([APP:]N).
			arg := args[0]
			if units.CheckAppName(arg) == nil || arg == units.App.AppName() {
				c, ok := o.pick("logs", f, arg)
				if !ok {
					return 2
				}
				sel.Units = []string{c.Instances()}
			} else {
				_, unit, ok := o.appInstance("logs", f, arg)
				if !ok {
					return 2
				}
				sel.Units = []string{unit}
			}
		}
		opt := view.LogOptions{JSON: *asJSON, Color: view.Colorful(o.stdout), Follow: *follow}
		if err := view.Logs(ctx, o.stdout, journal.Reader{}, sel, opt); err != nil {
			fmt.Fprintf(o.stderr, "app-reloader logs: %v\n", err)
			return 1
		}
		return 0
	}
}
