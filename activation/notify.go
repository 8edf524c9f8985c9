package activation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// sd_notify states, see sd_notify(3).
const (
	StateReady    = daemon.SdNotifyReady    // READY=1: start-up finished
	StateStopping = daemon.SdNotifyStopping // STOPPING=1: shutting down
	StateWatchdog = daemon.SdNotifyWatchdog // WATCHDOG=1: keep-alive ping
	statusPrefix  = "STATUS="
)

// Notify sends one sd_notify message made of the given assignments (for
// example "READY=1", "STATUS=serving") to the socket in NOTIFY_SOCKET. It is
// a no-op returning nil when NOTIFY_SOCKET is unset, that is outside
// systemd or for a unit that is not Type=notify.
func Notify(states ...string) error {
	msg := strings.Join(states, "\n")
	if _, err := daemon.SdNotify(false, msg); err != nil {
		return fmt.Errorf("sd_notify %q: %w", msg, err)
	}
	return nil
}

// Ready tells systemd the service finished starting (READY=1), with an
// optional status text.
func Ready(status string) error {
	if status == "" {
		return Notify(StateReady)
	}
	return Notify(StateReady, statusPrefix+status)
}

// Stopping tells systemd the service is shutting down (STOPPING=1), with an
// optional status text.
func Stopping(status string) error {
	if status == "" {
		return Notify(StateStopping)
	}
	return Notify(StateStopping, statusPrefix+status)
}

// Status sets the free-form status line "systemctl status" shows.
func Status(status string) error {
	return Notify(statusPrefix + status)
}

// Watchdog sends WATCHDOG=1 every half of the interval systemd asked for
// (WATCHDOG_USEC, for this PID) until ctx ends. It returns at once, with a
// nil error, when no watchdog is configured, and with the error when a ping
// cannot be sent.
func Watchdog(ctx context.Context) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	if interval == 0 {
		return nil
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		if err := Notify(StateWatchdog); err != nil {
			return fmt.Errorf("watchdog: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
