// Package metrics is what Prometheus sees of the apps: each instance's
// state, restarts, requests, CPU and memory, and each app's rollouts
// (how many, by result; the last one's start, duration and result), in
// Prometheus' text format, written where Debian's node exporter collects
// text files (prometheus-node-exporter's textfile collector,
// /var/lib/prometheus/node-exporter).
//
// app-metrics.timer runs `app-reloader metrics --textfile` every 15
// seconds, and every rollout writes the file as it ends; nothing listens
// on a port of its own.
//
//	app_instance_up{app="api",instance="0"} 1
//	app_instance_requests_total{app="api",instance="0"} 10324
//	app_rollouts_total{app="api",result="ok"} 3
//	app_last_rollout_duration_seconds{app="api"} 2.41
package metrics
