// Command app-reloader rolls a new release over the cluster's instances one
// at a time and shows their state. See package example.com/app/reloader.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"example.com/app/reloader"
)

func main() {
	// The first SIGINT/SIGTERM ends the command: a rollout (reload, scale)
	// lets the instance in progress finish and stops before the next; a
	// second one quits at once (systemd still finishes the job it was
	// given).
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	rollout := len(os.Args) > 1 && (os.Args[1] == "reload" || os.Args[1] == "scale" || os.Args[1] == "deploy")
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
	code := reloader.CLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}
