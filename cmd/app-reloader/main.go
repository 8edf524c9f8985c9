// Command app-reloader rolls a new release over the cluster's instances one
// at a time and shows their state. See package example.com/app/reloader/cli
// for its commands and example.com/app/reloader for the rollout itself.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"example.com/app/reloader/cli"
)

// version is set by the build (-X main.version=1.2.3).
var version = "dev"

func main() {
	cli.Version = version
	// The first SIGINT/SIGTERM ends the command: a rollout (reload, scale,
	// deploy) lets the instance in progress finish and stops before the
	// next; a second one quits at once (systemd still finishes the job it
	// was given).
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	rollout := cli.IsRollout(os.Args[1:])
	go func() {
		<-sigs
		if rollout {
			fmt.Fprintln(os.Stderr, "app-reloader: interrupted: finishing the instance in progress, then stopping (signal again to quit now)")
		}
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "app-reloader: quitting; systemd finishes the job in progress")
		os.Exit(130)
	}()
	code := cli.CLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}
