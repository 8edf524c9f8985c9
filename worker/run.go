package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"example.com/app/activation"
)

// Accept modes.
const (
	AcceptGo   = "go"
	AcceptFair = "fair"
)

// Config is what the worker's flags and environment set.
type Config struct {
	Instance string // X-Instance; from APP_INSTANCE=%i in the unit
	Version  string // X-Version

	// Listen is the address used when not socket-activated.
	Listen string
	// SocketName picks passed sockets by FileDescriptorName=; "" takes all.
	SocketName string
	// ProbeSocket, if set, is a Unix socket path the worker serves on too:
	// this instance's own address for health probes (APP_PROBE_SOCKET).
	ProbeSocket string
	// HealthzStatus, if set, is what /healthz answers while serving.
	HealthzStatus int
	// Accept is how passed sockets are accepted from: AcceptGo (Go's
	// poller) or AcceptFair (activation.Fair: in turn with the other
	// instances sharing the socket).
	Accept string
	// StartupDelay imitates an application's warm-up before READY=1.
	StartupDelay time.Duration

	DrainTimeout    time.Duration
	LameDuck        time.Duration
	MaxConnAge      time.Duration
	MaxConnRequests int
}

// Run serves the reference worker until it is told to stop, then drains. It
// returns nil after a clean drain.
func Run(ctx context.Context, log *slog.Logger, cfg Config) error {
	id := CurrentIdentity(cfg.Instance, cfg.Version)
	log = log.With("instance", id.Instance, "version", id.Version, "pid", id.PID)
	if cfg.StartupDelay > 0 {
		log.Info("warming up", "delay", cfg.StartupDelay)
		_ = activation.Status(fmt.Sprintf("warming up (%s)", cfg.StartupDelay))
		select {
		case <-time.After(cfg.StartupDelay):
		case <-ctx.Done():
			log.Info("stopped while warming up")
			return nil
		}
	}
	ls, err := activation.Listen(cfg.SocketName, cfg.Listen)
	if err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	if cfg.Accept == AcceptFair {
		for i, l := range ls {
			fl, err := activation.Fair(l)
			if err != nil {
				// Still served, by Go's own Accept: fairness is not worth
				// an instance that does not start.
				log.Warn("taking connections with Go's accept instead", "err", err)
				continue
			}
			ls[i] = fl
		}
	}
	if cfg.ProbeSocket != "" {
		pl, err := activation.ListenUnix(cfg.ProbeSocket)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return fmt.Errorf("probe socket: %w", err)
		}
		ls = append(ls, pl)
	}
	srv := &activation.Server{
		Listeners:       ls,
		Logger:          log,
		Status:          fmt.Sprintf("serving version %s", cfg.Version),
		StatusEvery:     time.Second,
		DrainTimeout:    cfg.DrainTimeout,
		LameDuck:        cfg.LameDuck,
		MaxConnAge:      cfg.MaxConnAge,
		MaxConnRequests: cfg.MaxConnRequests,
	}
	srv.HTTP = NewHTTPServer(Handler(id, srv.Draining, cfg.HealthzStatus))
	return srv.Serve(ctx)
}

// Timeouts of the worker's HTTP server: a client that sends its request
// slowly (slowloris) or not at all is cut off instead of holding a
// connection and a goroutine for good.
const (
	ReadHeaderTimeout = 10 * time.Second // request line and headers
	ReadTimeout       = 30 * time.Second // the whole request, body included
	WriteTimeout      = MaxSlow + 10*time.Second
	IdleTimeout       = 2 * time.Minute // between keep-alive requests
)

// NewHTTPServer is the worker's HTTP server around h, with its timeouts
// and limits.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
