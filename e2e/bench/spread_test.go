package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEvenAfter(t *testing.T) {
	t1 := time.Unix(1000, 0)
	series := func(imb ...float64) func(from, to time.Time) float64 {
		return func(from, to time.Time) float64 {
			assert.Equal(t, time.Second, to.Sub(from))
			return imb[int(from.Sub(t1)/time.Second)]
		}
	}
	assert.Equal(t, 4*time.Second, evenAfter(t1, 6, 1.5, series(2, 1, 1.1, 2, 1, 1)), "even from the 5th window on")
	assert.Equal(t, time.Duration(0), evenAfter(t1, 3, 1.5, series(1, 1.5, 1)), "even throughout")
	assert.Equal(t, time.Duration(-1), evenAfter(t1, 3, 1.5, series(1, 1, 2)), "the last window is not even")
	assert.Equal(t, time.Duration(-1), evenAfter(t1, 0, 1.5, series()), "no window")
}

// measureSpread counts the whole windows that end before the last request.
func TestSpreadWindows(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 0, time.Second, 3 * time.Second, 3*time.Second + time.Nanosecond, 3500 * time.Millisecond} {
		want := 0
		for k := time.Duration(0); (k + time.Second) < d; k += time.Second {
			want++
		}
		assert.Equal(t, want, max(0, int((d-1)/time.Second)), "span %s", d)
	}
}
