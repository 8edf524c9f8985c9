package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/reloader"
)

func TestWrite(t *testing.T) {
	since := time.Unix(1764633600, 0)
	apps := []App{
		{Status: reloader.Status{App: "app", Configured: 2, Instances: []reloader.Unit{
			{Name: "app@0.service", ActiveState: "active", NRestarts: 1, CPU: 1_500_000_000, Memory: 1 << 20, Since: since, StatusText: "serving version 1.0.0, 120 requests"},
			{Name: "app@1.service", ActiveState: "inactive", Result: "exec-condition"},
		}, LastRollout: &reloader.Report{Started: since, Took: 2410 * time.Millisecond, OK: true}},
			Counts: Counts{OK: 3, Failed: 1}},
		{Status: reloader.Status{App: "web", Configured: 1, Instances: []reloader.Unit{
			{Name: "app-web@0.service", ActiveState: "active", Since: since},
		}}},
	}
	var b strings.Builder
	require.NoError(t, Write(&b, apps, since.Add(time.Minute)))
	out := b.String()
	for _, want := range []string{
		"# HELP app_instance_up 1 when the instance is active (serving), else 0.\n# TYPE app_instance_up gauge\n" +
			"app_instance_up{app=\"app\",instance=\"0\"} 1\napp_instance_up{app=\"app\",instance=\"1\"} 0\napp_instance_up{app=\"web\",instance=\"0\"} 1\n",
		"app_instances_configured{app=\"web\"} 1\n",
		"app_instance_crash_loop{app=\"app\",instance=\"1\"} 1\n",
		"# TYPE app_instance_requests_total counter\napp_instance_requests_total{app=\"app\",instance=\"0\"} 120\n# HELP", // web reports none
		"app_instance_cpu_seconds_total{app=\"app\",instance=\"0\"} 1.5\n",
		"app_instance_memory_bytes{app=\"app\",instance=\"0\"} 1048576\n",
		"app_instance_start_time_seconds{app=\"app\",instance=\"0\"} 1764633600\n",
		"app_rollouts_total{app=\"app\",result=\"ok\"} 3\napp_rollouts_total{app=\"app\",result=\"failed\"} 1\napp_rollouts_total{app=\"web\",result=\"ok\"} 0\n",
		"app_last_rollout_duration_seconds{app=\"app\"} 2.41\n",
		"app_last_rollout_success{app=\"app\"} 1\n",
		"app_metrics_time_seconds 1764633660\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, `app_last_rollout_success{app="web"}`, "web never rolled")
	assert.NotContains(t, out, `app_instance_cpu_seconds_total{app="app",instance="1"}`, "no figures for what does not run")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		assert.Regexp(t, `^(# (HELP|TYPE) app_[a-z_]+ .+|app_[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.e+-]+)$`, l)
	}
}

func TestCountAndWriteFile(t *testing.T) {
	dir := t.TempDir()
	counts := filepath.Join(dir, "counts.json")
	require.NoError(t, Count(counts, "app", true))
	require.NoError(t, Count(counts, "app", false))
	require.NoError(t, Count(counts, "web", true))
	m, err := LoadCounts(counts)
	require.NoError(t, err)
	assert.Equal(t, map[string]Counts{"app": {OK: 1, Failed: 1}, "web": {OK: 1}}, m)

	require.NoError(t, os.WriteFile(counts, []byte("{not json"), 0o644))
	_, err = LoadCounts(counts)
	assert.ErrorContains(t, err, counts)
	require.NoError(t, Count(counts, "app", true), "a damaged file starts over")

	prom := filepath.Join(dir, "app.prom")
	require.NoError(t, WriteFile(prom, nil, time.Unix(10, 0)))
	fi, err := os.Stat(prom)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "the node exporter reads it as its own user")
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 2, "no temporary file left")
}

func TestInstanceOf(t *testing.T) {
	assert.Equal(t, "0", instanceOf("app", "app@0.service"))
	assert.Equal(t, "spare", instanceOf("app", "app@spare.service"))
	assert.Equal(t, "3", instanceOf("api", "app-api@3.service"))
}
