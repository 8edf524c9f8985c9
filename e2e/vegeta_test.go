package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSummarize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var hits []Hit
	for i := 1; i <= 1000; i++ {
		hits = append(hits, Hit{At: t0.Add(time.Duration(i) * time.Millisecond), Latency: time.Duration(i) * time.Microsecond, Code: 200, Instance: []string{"0", "1"}[i%2]})
	}
	hits = append(hits, Hit{At: t0.Add(500 * time.Millisecond), Code: 0, Error: "connection reset by peer"},
		Hit{At: t0.Add(501 * time.Millisecond), Code: 503})

	st := Summarize(hits, time.Time{}, time.Time{})
	assert.Equal(t, 1002, st.N)
	assert.Equal(t, 2, st.Failed)
	assert.Equal(t, map[string]int{"connection reset by peer": 1, "status 503": 1}, st.Errors)
	assert.Equal(t, 500*time.Microsecond, st.P50)
	assert.Equal(t, 990*time.Microsecond, st.P99)
	assert.Equal(t, 999*time.Microsecond, st.P999)
	assert.Equal(t, 1000*time.Microsecond, st.Max)
	assert.InDelta(t, 1002/0.999, st.Rate, 1)

	// A window counts the requests sent within [from, to).
	st = Summarize(hits, t0.Add(101*time.Millisecond), t0.Add(201*time.Millisecond))
	assert.Equal(t, 100, st.N)
	assert.Equal(t, 150*time.Microsecond, st.P50)
	assert.Equal(t, map[string]int{"0": 50, "1": 50}, Shares(hits, t0.Add(101*time.Millisecond), t0.Add(201*time.Millisecond)))

	assert.Zero(t, Summarize(nil, time.Time{}, time.Time{}).N)
}

func TestAttackRefusesOtherHosts(t *testing.T) {
	v := &Vegeta{Bin: "/nonexistent"}
	_, err := v.Attack(t.Context(), AttackOptions{URL: "http://192.0.2.1/", Rate: 1, Duration: time.Second})
	assert.ErrorContains(t, err, "load goes to loopback only")
	_, err = v.Attack(t.Context(), AttackOptions{URL: "http://127.0.0.1:1/", Rate: 1, Duration: time.Hour})
	assert.ErrorContains(t, err, "want a bound")
}

// The two load clients agree on a quantile of the same latencies: one
// rule (nearest rank) for both.
func TestQuantileAgrees(t *testing.T) {
	for _, n := range []int{1, 7, 150, 1001} {
		var hits []Hit
		var res Result
		for i := n; i >= 1; i-- {
			l := time.Duration(i*37%n+1) * time.Microsecond
			hits = append(hits, Hit{Latency: l, Code: 200})
			res.Samples = append(res.Samples, Sample{Latency: l})
		}
		st := Summarize(hits, time.Time{}, time.Time{})
		assert.Equal(t, st.P50, res.Quantile(0.50), "p50 of %d", n)
		assert.Equal(t, st.P99, res.Quantile(0.99), "p99 of %d", n)
		assert.Equal(t, st.P999, res.Quantile(0.999), "p99.9 of %d", n)
		var sorted []time.Duration
		for _, h := range hits {
			sorted = append(sorted, h.Latency)
		}
		slices.Sort(sorted)
		for _, q := range []float64{0.1, 0.3, 0.9} {
			assert.Equal(t, quantile(sorted, q), res.Quantile(q), "q %v of %d", q, n)
		}
	}
	// Nearest rank: of 7, the 0.9 quantile is the 7th (6.3 rounds up).
	assert.Equal(t, 7*time.Microsecond, quantile([]time.Duration{1, 2, 3, 4, 5, 6, 7}, 0.9)*1000)
}
