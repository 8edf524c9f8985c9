package main

import (
	"testing"

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
