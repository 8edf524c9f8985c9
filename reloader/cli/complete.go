package cli

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"example.com/app/units"
)

// completer suggests a command's arguments to the shell: cobra's
// completion scripts (bash, zsh, fish) ask `app-reloader __complete`.
type completer = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective)

// completeNothing: the argument is nothing the shell can guess.
var completeNothing completer = cobra.NoFileCompletions

// completeApps suggests the apps: app, and each NAME.toml in --apps.
func completeApps(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return appNames(cmd), cobra.ShellCompDirectiveNoFileComp
}

// completeInstances suggests the instances systemd knows: the package's
// app's by number (spare while a rollout runs), the others' as APP:N.
func completeInstances(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return instanceNames(), cobra.ShellCompDirectiveNoFileComp
}

// completeLogs suggests an app or an instance.
func completeLogs(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return append(instanceNames(), appNames(cmd)...), cobra.ShellCompDirectiveNoFileComp
}

// completeScale suggests [APP] COUNT.
func completeScale(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	counts := []cobra.Completion{"auto", "+1", "-1"}
	switch len(args) {
	case 0:
		return append(counts, appNames(cmd)...), cobra.ShellCompDirectiveNoFileComp
	case 1:
		if _, err := units.ParseInstances(args[0]); err != nil && !relative.MatchString(args[0]) {
			return counts, cobra.ShellCompDirectiveNoFileComp // after the app
		}
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeFiles suggests files with these extensions, and directories.
func completeFiles(ext ...string) completer {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return ext, cobra.ShellCompDirectiveFilterFileExt
	}
}

// appNames are the apps: app, and those configured in --apps.
func appNames(cmd *cobra.Command) []cobra.Completion {
	dir := units.AppsDir
	if f := cmd.Flags().Lookup("apps"); f != nil {
		dir = f.Value.String()
	}
	names := []cobra.Completion{units.App.AppName()}
	apps, _ := units.Apps(dir) // what could be listed; the shell shows no errors
	for _, c := range apps {
		names = append(names, c.AppName())
	}
	return names
}

var instanceUnit = regexp.MustCompile(`^app(?:-([a-z0-9-]+))?@([0-9a-z]+)\.service$`)

// instanceNames asks systemd for the instances it knows.
func instanceNames() []cobra.Completion {
	out, err := exec.Command("systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager", "app@*.service", "app-*@*.service").Output()
	if err != nil {
		return nil
	}
	var names []cobra.Completion
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		m := instanceUnit.FindStringSubmatch(f[0])
		switch {
		case m == nil:
		case m[1] == "":
			names = append(names, m[2])
		default:
			names = append(names, m[1]+":"+m[2])
		}
	}
	return names
}

// registerFlagCompletions says which flags take no file: the others
// (--config, --apps, --lock, --report, --output, --dir) complete files.
func registerFlagCompletions(cmd *cobra.Command) {
	register := func(name string, f completer) {
		if cmd.Flags().Lookup(name) == nil {
			return
		}
		if err := cmd.RegisterFlagCompletionFunc(name, f); err != nil {
			panic(fmt.Sprintf("app-reloader %s --%s: %v", cmd.Name(), name, err)) // a mistake in this file
		}
	}
	for _, name := range []string{"lines", "since", "interval", "iterations", "app", "env", "window", "max-restarts", "socket", "parallel", "ssh", "wait-lock", "host"} {
		register(name, cobra.NoFileCompletions)
	}
	register("priority", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}, cobra.ShellCompDirectiveNoFileComp
	})
}
