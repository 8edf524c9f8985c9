//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What wrk 4.1.0 (Debian 12) prints with --latency.
const wrkReport = `Running 2s test @ http://127.0.0.1:18080/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   402.15us  210.11us   9.81ms   91.02%
    Req/Sec    40.11k     1.21k   42.01k    70.00%
  Latency Distribution
     50%  371.00us
     75%  430.00us
     90%  520.00us
     99%    1.21ms
  79842 requests in 2.00s, 11.57MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  39906.37
Transfer/sec:      5.78MB
`

func TestParseWrk(t *testing.T) {
	var r WrkResult
	require.NoError(t, parseWrk(wrkReport, &r))
	assert.Equal(t, 79842, r.Requests)
	assert.InDelta(t, 39906.37, r.Rate, 0.01)
	assert.Equal(t, 371*time.Microsecond, r.P50)
	assert.Equal(t, 1210*time.Microsecond, r.P99)
	assert.Equal(t, 6, r.Errors)
	assert.Error(t, parseWrk("wrk: connection refused\n", &r))
}

func TestWrkRefusesOtherHosts(t *testing.T) {
	_, err := Wrk(context.Background(), WrkOptions{URL: "http://192.0.2.1/", Threads: 1, Connections: 1, Duration: time.Second})
	assert.ErrorContains(t, err, "loopback only")
}
