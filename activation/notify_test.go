package activation_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/activation"
)

func TestNotifyMessages(t *testing.T) {
	path, read := notifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)

	for _, tc := range []struct {
		send func() error
		want string
	}{
		{func() error { return activation.Ready("") }, "READY=1"},
		{func() error { return activation.Ready("serving v2") }, "READY=1\nSTATUS=serving v2"},
		{func() error { return activation.Status("warming up") }, "STATUS=warming up"},
		{func() error { return activation.Stopping("draining") }, "STOPPING=1\nSTATUS=draining"},
		{func() error { return activation.Notify("EXTEND_TIMEOUT_USEC=5000000") }, "EXTEND_TIMEOUT_USEC=5000000"},
	} {
		require.NoError(t, tc.send())
		got, err := read(time.Second)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

func TestNotifyOutsideSystemdIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	assert.NoError(t, activation.Ready("x"))
	assert.NoError(t, activation.Stopping(""))
}

func TestNotifyUnreachableSocketIsError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", t.TempDir()+"/missing.sock")
	assert.ErrorContains(t, activation.Ready(""), `sd_notify "READY=1"`)
}

func TestWatchdogPings(t *testing.T) {
	path, read := notifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "40000") // 40 ms: a ping every 20 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- activation.Watchdog(ctx) }()
	for i := 0; i < 3; i++ {
		got, err := read(2 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, "WATCHDOG=1", got)
	}
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Watchdog did not return after its context ended")
	}
}

func TestWatchdogOffWhenNotAsked(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	done := make(chan error, 1)
	go func() { done <- activation.Watchdog(context.Background()) }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Watchdog without WATCHDOG_USEC must return at once")
	}
}
