// Command app-generator is a systemd generator (systemd.generator(7)): at
// boot and on daemon-reload it turns /etc/app/app.toml into drop-ins for
// app.socket and app@.service and one app.target.wants link per instance.
// The package installs it in /lib/systemd/system-generators.
package main

import (
	"fmt"
	"os"
	"strings"

	"example.com/app/units"
)

func main() {
	const usage = "usage: app-generator NORMAL-DIR [EARLY-DIR LATE-DIR]\n\n" +
		"A systemd generator (systemd.generator(7)), run by systemd at boot and on\n" +
		"daemon-reload: turns " + units.DefaultConfigPath + " into drop-ins for app.socket and\n" +
		"app@.service and one app.target.wants link per instance, in NORMAL-DIR.\n" +
		"When it does not validate, the last configuration a rollout applied\n" +
		"(" + units.AppliedPath + ") is used instead, and the reason goes to the journal.\n"
	if len(os.Args) > 1 && (os.Args[1] == "-h" || os.Args[1] == "-help" || os.Args[1] == "--help") {
		fmt.Print(usage)
		return
	}
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cfg, source, fallback, err := units.LoadForGenerator(units.DefaultConfigPath, units.AppliedPath)
	if err != nil {
		// Writing nothing leaves the shipped defaults of the units; say why
		// where the operator will look (the journal gets generator output).
		fmt.Fprintf(os.Stderr, "app-generator: %v; app units keep their defaults and no instance is wanted\n", err)
		os.Exit(1)
	}
	if fallback != "" {
		fmt.Fprintf(os.Stderr, "app-generator: %s; keeping the last configuration applied (%s) until it is fixed\n", fallback, source)
	}
	if err := units.Generate(cfg, source, os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "app-generator: %v\n", err)
		os.Exit(1)
	}
}
