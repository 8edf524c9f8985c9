// Command app-generator is a systemd generator (systemd.generator(7)): at
// boot and on daemon-reload it turns /etc/app/app.toml into drop-ins for
// app.socket and app@.service and one app.target.wants link per instance,
// and each app in /etc/app/apps.d (NAME.toml) into its own units,
// app-NAME.socket, app-NAME@.service, app-NAME.target and
// app-NAME-reload.service, enabled. The package installs it in
// /lib/systemd/system-generators.
package main

import (
	"fmt"
	"os"
	"strings"

	"example.com/app/units"
)

// version is set by the build (-X main.version=1.2.3).
var version = "dev"

func main() {
	const usage = "usage: app-generator NORMAL-DIR [EARLY-DIR LATE-DIR]\n\n" +
		"A systemd generator (systemd.generator(7)), run by systemd at boot and on\n" +
		"daemon-reload: turns " + units.DefaultConfigPath + " into drop-ins for app.socket and\n" +
		"app@.service and one app.target.wants link per instance, in NORMAL-DIR, and\n" +
		"each app in " + units.AppsDir + " (NAME.toml) into its own units (app-NAME.*).\n" +
		"When it does not validate, the last configuration a rollout applied\n" +
		"(" + units.AppliedPath + ") is used instead, and the reason goes to the journal.\n" +
		"\n--version prints the version.\n"
	if len(os.Args) > 1 && (os.Args[1] == "-h" || os.Args[1] == "-help" || os.Args[1] == "--help") {
		fmt.Print(usage)
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println("app-generator", version)
		return
	}
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	apps, problems := units.LoadAppsForGenerator(units.DefaultConfigPath, units.AppliedPath, units.AppsDir)
	for _, p := range problems {
		// The journal gets a generator's output: say it where the
		// operator will look.
		fmt.Fprintf(os.Stderr, "app-generator: %v\n", p)
	}
	code := 0
	for _, a := range apps {
		if err := units.Generate(a.Config, a.Source, os.Args[1]); err != nil {
			fmt.Fprintf(os.Stderr, "app-generator: app %s: %v\n", a.Config.Cluster().AppName(), err)
			code = 1
		}
	}
	if len(apps) == 0 || apps[0].Config.Cluster() != units.App {
		fmt.Fprintln(os.Stderr, "app-generator: app units keep their defaults and no instance of app is wanted")
		code = 1
	}
	os.Exit(code)
}
