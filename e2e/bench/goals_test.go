package main

import (
	"testing"
	"time"

	"example.com/app/e2e"

	"github.com/stretchr/testify/assert"
)

func TestTpRatiosPairByRepetition(t *testing.T) {
	recs := []record{
		{system: refReusePort, mode: modeNew, rep: 1, throughput: 1000},
		{system: refReusePort, mode: modeNew, rep: 2, throughput: 2000},
		{system: refReusePort, mode: modeKA, rep: 1, throughput: 9999},
		{system: sysDefaults, mode: modeNew, rep: 2, throughput: 1900},
		{system: sysDefaults, mode: modeNew, rep: 1, throughput: 800},
		{system: sysDefaults, mode: modeNew, rep: 3, throughput: 500}, // no reference in rep 3
		{system: sysDefaults, mode: modeKA, rep: 1, throughput: 1},
	}
	assert.Equal(t, []float64{0.95, 0.8}, tpRatios(recs, sysDefaults, refReusePort))
	assert.Empty(t, tpRatios(recs, sysSharedGo, refReusePort))
}

func TestPairRatiosMeanOfABBA(t *testing.T) {
	var pairs []tpPair
	add := func(rep int, off bool, a1, b1, b2, a2 float64) {
		pairs = append(pairs,
			tpPair{sysDefaults, rep, off, a1}, tpPair{refReusePort, rep, off, b1},
			tpPair{refReusePort, rep, off, b2}, tpPair{sysDefaults, rep, off, a2})
	}
	add(1, false, 800, 1000, 1000, 800)
	add(1, true, 1000, 1100, 900, 900)
	add(2, false, 600, 900, 700, 1000)
	assert.Equal(t, []float64{0.8, 1.0}, pairRatios(pairs, sysDefaults, refReusePort, false))
	assert.Equal(t, []float64{0.95}, pairRatios(pairs, sysDefaults, refReusePort, true))
	assert.Empty(t, pairRatios(pairs, sysSharedGo, refReusePort, false))
}

// The Node worker's setups are compared with the Node worker's own
// SO_REUSEPORT run, not the Go worker's.
func TestReferenceFor(t *testing.T) {
	assert.Equal(t, sysNodeReuse, referenceFor(sysNodeDefaults, refReusePort))
	assert.Equal(t, sysNodeReuse, referenceFor(sysNodeGreedy, refReusePort))
	assert.Equal(t, refReusePort, referenceFor(sysDefaults, refReusePort))
	assert.Equal(t, refReusePort, referenceFor("pm2, Node worker", refReusePort))
}

func TestABBAOrder(t *testing.T) {
	assert.Equal(t, []string{"a", "b", "b", "a"}, abbaOrder("a", "b", 1))
	assert.Equal(t, []string{"b", "a", "a", "b"}, abbaOrder("a", "b", 2))
}

// The back-to-back p99 is judged against the idle-priority burn of the
// same repetition, not another one's.
func TestVsBurnPairsByRepetition(t *testing.T) {
	rec := func(rep int, steady, during time.Duration) b2bRec {
		return b2bRec{system: sysDefaults, rep: rep, steady: e2e.Stats{P99: steady}, during: e2e.Stats{P99: during}}
	}
	burns := []b2bRec{rec(1, time.Millisecond, 4*time.Millisecond), rec(2, time.Millisecond, 2*time.Millisecond), rec(3, 0, time.Millisecond)}
	bs := []b2bRec{rec(2, time.Millisecond, 3*time.Millisecond), rec(1, time.Millisecond, 2*time.Millisecond), rec(3, time.Millisecond, 2*time.Millisecond), rec(4, time.Millisecond, time.Millisecond)}
	assert.Equal(t, []float64{1.5, 0.5}, vsBurn(bs, burns))
	assert.Empty(t, vsBurn(bs, nil))
}
