package reloader

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGuardStopsACrashLoop(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_000_000, 0)
	for i := 1; i <= 3; i++ { // a start and 2 restarts
		n, err := Guard(dir, "app@1.service", now.Add(time.Duration(i)*time.Second), 2, time.Minute)
		require.NoError(t, err, "start %d", i)
		assert.Equal(t, i, n)
	}
	n, err := Guard(dir, "app@1.service", now.Add(4*time.Second), 2, time.Minute)
	assert.ErrorIs(t, err, ErrCrashLoop)
	assert.ErrorContains(t, err, "app@1.service started 4 times within 1m0s")
	assert.Equal(t, 4, n)

	// Other instances have their own record.
	_, err = Guard(dir, "app@0.service", now, 2, time.Minute)
	assert.NoError(t, err)

	// Starts older than the window are forgotten.
	n, err = Guard(dir, "app@1.service", now.Add(2*time.Minute), 2, time.Minute)
	assert.NoError(t, err)
	assert.Equal(t, 1, n)

	// A deliberate start by the reloader clears the record.
	for i := 0; i < 3; i++ {
		_, _ = Guard(dir, "app@1.service", now.Add(2*time.Minute), 2, time.Minute)
	}
	require.NoError(t, ClearGuard(dir, "app@1.service"))
	n, err = Guard(dir, "app@1.service", now.Add(2*time.Minute), 2, time.Minute)
	assert.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.NoError(t, ClearGuard(dir, "app@9.service"), "clearing a missing record is fine")
}

func TestGuardForgetsCleanStops(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_000_000, 0)
	// Ten stops and starts by hand within a minute: never a crash loop.
	for i := 0; i < 10; i++ {
		_, err := Guard(dir, "app@0.service", now.Add(time.Duration(i)*time.Second), 2, time.Minute)
		require.NoError(t, err, "start %d after clean stops", i+1)
		require.NoError(t, Stopped(dir, "app@0.service", "success"))
	}
	// Failures are kept, whatever kind.
	for i, result := range []string{"exit-code", "signal", "core-dump"} {
		_, err := Guard(dir, "app@0.service", now.Add(time.Duration(20+i)*time.Second), 2, time.Minute)
		require.NoError(t, err)
		require.NoError(t, Stopped(dir, "app@0.service", result))
	}
	_, err := Guard(dir, "app@0.service", now.Add(30*time.Second), 2, time.Minute)
	assert.ErrorIs(t, err, ErrCrashLoop, "three failed runs, then a fourth start")
}
