//go:build linux

package main

import (
	"bufio"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCPULine(t *testing.T) {
	for in, want := range map[string]string{
		"12:pids:/\n2:cpu:/app-bench-7\n1:name=systemd:/x\n": "/app-bench-7",
		"4:cpu,cpuacct:/a/b\n0::/c\n":                        "/a/b",
	} {
		got, err := cpuLine(bufio.NewScanner(strings.NewReader(in)))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	// cpuacct and cpuset are not cpu; v2 has no controller list.
	_, err := cpuLine(bufio.NewScanner(strings.NewReader("3:cpuacct:/\n5:cpuset:/\n0::/init.scope\n")))
	assert.Error(t, err)
}

// A goal is judged on the median ratio of each setting's blocks.
func TestSatGoals(t *testing.T) {
	sats := []satRec{
		{system: "app, Go worker", setting: satAsIs, rep: 1, ours: 12, pm2: 3},
		{system: "app, Go worker", setting: satAsIs, rep: 2, ours: 9, pm2: 3},
		{system: "app, Go worker", setting: satAsIs, rep: 3, ours: 2, pm2: 4},
		{system: "app, Node worker", setting: satOneGroup, rep: 1, ours: 1, pm2: 2},
	}
	rows := satGoals(sats)
	require.Len(t, rows, 2)
	assert.Contains(t, rows[0], "**missed** (median ratio 3.00)")
	assert.Contains(t, rows[0], satAsIs)
	assert.Contains(t, rows[1], "met (median ratio 0.50)")
	assert.Zero(t, satRec{ours: 1}.ratio(), "no pm2 figure, no ratio")
}
