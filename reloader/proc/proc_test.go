package proc

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessUsage(t *testing.T) {
	// Burn CPU until the kernel has counted some (in clock ticks: on a
	// busy machine 50 ms of wall time may be none), then read this
	// process's own.
	var cpu time.Duration
	var rss uint64
	var err error
	for deadline := time.Now().Add(5 * time.Second); cpu == 0 && time.Now().Before(deadline); {
		for spin := time.Now().Add(20 * time.Millisecond); time.Now().Before(spin); {
		}
		cpu, rss, err = Usage(uint32(os.Getpid()))
		require.NoError(t, err)
	}
	assert.Greater(t, cpu, time.Duration(0))
	assert.Greater(t, rss, uint64(1<<20))
	_, _, err = Usage(1 << 30)
	assert.Error(t, err)
}
