package sdbus

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type sdConn = sd.Conn

// A wait for a job ends when the connection to systemd closes (go-systemd
// never completes a job's channel then), and after its bound.
func TestJobWaitIsBounded(t *testing.T) {
	never := func(_ *sdConn, _ context.Context, _, _ string, _ chan<- string) (int, error) { return 1, nil }
	closed := make(chan struct{})
	d := &DBus{closed: closed, dial: func() (*sdConn, *dbus.Conn, <-chan struct{}, error) {
		return nil, nil, nil, errors.New("systemd is away")
	}}
	go func() { time.Sleep(100 * time.Millisecond); close(closed) }()
	start := time.Now()
	_, err := d.job(context.Background(), "restart", never, "app@1.service", time.Hour)
	require.ErrorIs(t, err, ErrBusClosed)
	assert.Contains(t, err.Error(), "restart app@1.service: lost the connection to systemd while waiting for the job")
	assert.Less(t, time.Since(start), 5*time.Second, "noticed at once")

	d = &DBus{closed: make(chan struct{})}
	_, err = d.job(context.Background(), "stop", never, "app@1.service", 50*time.Millisecond)
	require.ErrorIs(t, err, ErrJobTimeout)
	assert.Contains(t, err.Error(), "none after 50ms")

	_, err = d.job(context.Background(), "stop", func(*sdConn, context.Context, string, string, chan<- string) (int, error) {
		return 0, syscall.ECONNRESET
	}, "app@1.service", time.Hour)
	require.ErrorIs(t, err, syscall.ECONNRESET)
}
