package proc

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessUsage(t *testing.T) {
	// Burn some CPU, then read this process's own.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	cpu, rss, err := Usage(uint32(os.Getpid()))
	require.NoError(t, err)
	assert.Greater(t, cpu, time.Duration(0))
	assert.Greater(t, rss, uint64(1<<20))
	_, _, err = Usage(1 << 30)
	assert.Error(t, err)
}
