package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/e2e"
)

// The plots are drawn by gnuplot (make e2e-deps installs it) from a
// synthetic run: a latency bump during the rollout, one failed request.
func TestPlots(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := record{system: "app, Go worker", mode: modeKA, rep: 1, t0: t0.Add(3 * time.Second), t1: t0.Add(5 * time.Second),
		shareBefore: map[string]int{"0": 600, "1": 400}, shareAfter: map[string]int{"0": 500, "1": 500},
		marks: []mark{{at: t0.Add(4 * time.Second), label: "app@0 ready"}, {at: t0.Add(5 * time.Second), label: "app@1 ready"}}}
	for i := 0; i < 8000; i++ {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		lat := 500 * time.Microsecond
		if at.After(r.t0) && at.Before(r.t1) {
			lat = 5 * time.Millisecond
		}
		r.hits = append(r.hits, e2e.Hit{At: at, Latency: lat, Code: 200, Instance: "0"})
	}
	r.hits[4000].Code = 0
	r.hits[4000].Error = "connection reset by peer"

	dir := t.TempDir()
	png, err := plotLatency(t.Context(), dir, "latency", r)
	require.NoError(t, err)
	assertPNG(t, filepath.Join(dir, png))
	png, err = plotShares(t.Context(), dir, "shares", []record{r, r}, []string{"0", "1"})
	require.NoError(t, err)
	assertPNG(t, filepath.Join(dir, png))
	left, _ := filepath.Glob(filepath.Join(dir, "*.dat"))
	assert.Empty(t, left, "data files are removed")
}

func assertPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b, []byte("\x89PNG\r\n")), "%s is a PNG", path)
	assert.Greater(t, len(b), 5000, "%s has something drawn", path)
}
