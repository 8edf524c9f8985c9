// Command app-reloader rolls a new release over the cluster's instances one
// at a time and shows their state. See package example.com/app/reloader.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"example.com/app/reloader"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := reloader.CLI(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
