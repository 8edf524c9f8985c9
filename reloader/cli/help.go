package cli

import (
	"context"
	"fmt"
)

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
