// Command app is the reference worker: an HTTP server that takes the socket
// systemd passes (or listens on -listen outside systemd), reports READY=1,
// and drains on SIGTERM. See package example.com/app/worker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"example.com/app/worker"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	cfg := worker.Config{Version: version}
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.StringVar(&cfg.Instance, "instance", envOr("APP_INSTANCE", "local"), "instance name reported in X-Instance (env APP_INSTANCE)")
	fs.StringVar(&cfg.Listen, "listen", envOr("APP_LISTEN", "127.0.0.1:8080"), "address to listen on when not socket-activated (env APP_LISTEN)")
	fs.StringVar(&cfg.SocketName, "socket-name", os.Getenv("APP_SOCKET_NAME"), "serve only passed sockets with this FileDescriptorName (env APP_SOCKET_NAME; default all)")
	fs.StringVar(&cfg.ProbeSocket, "probe-socket", os.Getenv("APP_PROBE_SOCKET"), "also serve on this Unix socket, the instance's own address for health probes (env APP_PROBE_SOCKET)")
	fs.IntVar(&cfg.HealthzStatus, "healthz-status", envInt("APP_HEALTHZ_STATUS", 0), "status /healthz answers while serving, 0 = 200 (env APP_HEALTHZ_STATUS; to test failing releases)")
	delay := fs.String("startup-delay", envOr("APP_STARTUP_DELAY", "0s"), "warm-up time before READY=1 (env APP_STARTUP_DELAY)")
	drain := fs.String("drain-timeout", envOr("APP_DRAIN_TIMEOUT", "25s"), "how long in-flight requests may take after SIGTERM (env APP_DRAIN_TIMEOUT)")
	lame := fs.String("lame-duck", envOr("APP_LAME_DUCK", "500ms"), "keep-alive lame-duck window after SIGTERM (env APP_LAME_DUCK)")
	maxAge := fs.String("max-conn-age", envOr("APP_MAX_CONN_AGE", "6s"), "close keep-alive connections older than this (each its own cap between half of it and all of it), 0 = never (env APP_MAX_CONN_AGE)")
	fs.IntVar(&cfg.MaxConnRequests, "max-conn-requests", envInt("APP_MAX_CONN_REQUESTS", 1000), "close keep-alive connections after this many requests, 0 = never (env APP_MAX_CONN_REQUESTS)")
	fs.StringVar(&cfg.Accept, "accept", envOr("APP_ACCEPT", worker.AcceptFair), "how to take connections from a shared socket: \"fair\" (in turn with the other instances: EPOLLEXCLUSIVE, re-armed) or \"go\" (Go's poller: whichever wakes first) (env APP_ACCEPT)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: app [flags]\n\nThe app cluster's reference HTTP worker: serves on the sockets systemd passes\n(or on -listen), sends READY=1, drains on SIGTERM. See man app.\n\nflags:\n")
		fs.PrintDefaults()
	}
	for _, a := range os.Args[1:] {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(os.Stdout) // asked for: the usage is the output
		}
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	for _, d := range []struct {
		name string
		in   string
		out  *time.Duration
	}{
		{"startup-delay", *delay, &cfg.StartupDelay},
		{"drain-timeout", *drain, &cfg.DrainTimeout},
		{"lame-duck", *lame, &cfg.LameDuck},
		{"max-conn-age", *maxAge, &cfg.MaxConnAge},
	} {
		v, err := time.ParseDuration(d.in)
		if err != nil || v < 0 {
			fmt.Fprintf(os.Stderr, "app: -%s %q: want a duration such as 500ms or 30s\n", d.name, d.in)
			os.Exit(2)
		}
		*d.out = v
	}
	if cfg.HealthzStatus != 0 && (cfg.HealthzStatus < 100 || cfg.HealthzStatus > 599) {
		fmt.Fprintf(os.Stderr, "app: -healthz-status %d: want an HTTP status from 100 to 599, or 0\n", cfg.HealthzStatus)
		os.Exit(2)
	}
	if cfg.Accept != worker.AcceptGo && cfg.Accept != worker.AcceptFair {
		fmt.Fprintf(os.Stderr, "app: -accept %q: want %q or %q\n", cfg.Accept, worker.AcceptGo, worker.AcceptFair)
		os.Exit(2)
	}
	if cfg.MaxConnRequests < 0 {
		fmt.Fprintf(os.Stderr, "app: -max-conn-requests %d: want 0 or more\n", cfg.MaxConnRequests)
		os.Exit(2)
	}

	log := worker.NewLogger(os.Stderr, slog.LevelInfo)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := worker.Run(ctx, log, cfg); err != nil {
		log.Error("worker failed", "err", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "app: %s=%q: want an integer\n", key, v)
		os.Exit(2)
	}
	return n
}
