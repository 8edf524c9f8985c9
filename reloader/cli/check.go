package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"example.com/app/units"
)

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
		return o.json(map[string]any{"ok": true, "config": *config, "instances": cfg.Count(), "listen": cfg.Listen, "socket": cfg.Socket, "advice": cfg.Advice()})
	}
	fmt.Fprintf(o.stdout, "%s: ok (%d instances, listen %s, socket %s)\n", *config, cfg.Count(), strings.Join(cfg.ListenStrings(), ", "), cfg.Socket)
	return 0
}
