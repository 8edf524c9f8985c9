package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"example.com/app/activation/statusline"
	"example.com/app/reloader"
	"example.com/app/units"
)

// TextfileDir is where Debian's prometheus-node-exporter reads text files
// (--collector.textfile.directory).
const TextfileDir = "/var/lib/prometheus/node-exporter"

// DefaultTextfile is the file app-metrics.service writes there.
const DefaultTextfile = TextfileDir + "/app.prom"

// CountsPath is where the rollouts of every app are counted.
const CountsPath = "/var/lib/app/rollout-counts.json"

// Counts are an app's rollouts so far, by result.
type Counts struct {
	OK     uint64 `json:"ok"`
	Failed uint64 `json:"failed"`
}

// LoadCounts reads every app's counts; none yet is no error.
func LoadCounts(path string) (map[string]Counts, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Counts{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollout counts: %w", err)
	}
	m := map[string]Counts{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("rollout counts %s: %w", path, err)
	}
	return m, nil
}

// Count adds one rollout of app, ok or not, to the counts in path. The
// caller holds the app's rollout lock: two rollouts of one app never
// count at once (another app's may: the file is replaced whole, and a
// count lost that way is one, not the file).
func Count(path, app string, ok bool) error {
	m, err := LoadCounts(path)
	if err != nil {
		m = map[string]Counts{} // a damaged file starts over rather than stop counting
	}
	c := m[app]
	if ok {
		c.OK++
	} else {
		c.Failed++
	}
	m[app] = c
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("rollout counts: %w", err)
	}
	return units.WriteFileAtomic(path, append(b, '\n'), 0o644, nil)
}

// App is one app as the metrics show it.
type App struct {
	Status reloader.Status
	Counts Counts
}

// metric is one metric family's header.
type metric struct{ name, typ, help string }

var (
	configured  = metric{"app_instances_configured", "gauge", "Instances the app's configuration asks for."}
	up          = metric{"app_instance_up", "gauge", "1 when the instance is active (serving), else 0."}
	keptDown    = metric{"app_instance_crash_loop", "gauge", "1 when the crash-loop guard keeps the instance down until the next rollout."}
	restarts    = metric{"app_instance_restarts_total", "counter", "Restarts systemd made of the instance after failures (NRestarts)."}
	requests    = metric{"app_instance_requests_total", "counter", "Requests the instance's process served, as its STATUS= says (a worker that reports it)."}
	cpu         = metric{"app_instance_cpu_seconds_total", "counter", "CPU time of the instance (systemd's accounting)."}
	memory      = metric{"app_instance_memory_bytes", "gauge", "Memory of the instance (MemoryCurrent)."}
	started     = metric{"app_instance_start_time_seconds", "gauge", "When the instance last became active, in seconds since the epoch."}
	rollouts    = metric{"app_rollouts_total", "counter", "Rollouts (reload, scale) of the app that ended, by result."}
	lastStart   = metric{"app_last_rollout_start_time_seconds", "gauge", "When the app's last rollout started, in seconds since the epoch."}
	lastTook    = metric{"app_last_rollout_duration_seconds", "gauge", "How long the app's last rollout took."}
	lastOK      = metric{"app_last_rollout_success", "gauge", "1 when the app's last rollout completed, else 0."}
	lastRunning = metric{"app_last_rollout_running", "gauge", "1 while a rollout of the app runs."}
	written     = metric{"app_metrics_time_seconds", "gauge", "When these figures were taken: stale ones are old."}
)

// Write writes the apps' metrics in Prometheus' text format (version
// 0.0.4), taken at now.
func Write(w io.Writer, apps []App, now time.Time) error {
	var b strings.Builder
	family := func(m metric, samples func(add func(labels string, v float64))) {
		var lines []string
		samples(func(labels string, v float64) {
			if labels != "" {
				labels = "{" + labels + "}"
			}
			lines = append(lines, m.name+labels+" "+strconv.FormatFloat(v, 'f', -1, 64)+"\n")
		})
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for _, l := range lines {
			b.WriteString(l)
		}
	}
	appLabel := func(a App) string { return `app="` + escape(a.Status.App) + `"` }
	each := func(f func(a App, labels string, u reloader.Unit, add func(string, float64))) func(func(string, float64)) {
		return func(add func(string, float64)) {
			for _, a := range apps {
				for _, u := range a.Status.Instances {
					f(a, appLabel(a)+`,instance="`+escape(instanceOf(a.Status.App, u.Name))+`"`, u, add)
				}
			}
		}
	}
	family(configured, func(add func(string, float64)) {
		for _, a := range apps {
			add(appLabel(a), float64(a.Status.Configured))
		}
	})
	family(up, each(func(_ App, l string, u reloader.Unit, add func(string, float64)) {
		add(l, bool01(u.ActiveState == "active"))
	}))
	family(keptDown, each(func(_ App, l string, u reloader.Unit, add func(string, float64)) {
		add(l, bool01(u.Result == "exec-condition"))
	}))
	family(restarts, each(func(_ App, l string, u reloader.Unit, add func(string, float64)) { add(l, float64(u.NRestarts)) }))
	family(requests, each(func(_ App, l string, u reloader.Unit, add func(string, float64)) {
		if n, ok := statusline.Requests(u.StatusText); ok && u.Running() {
			add(l, float64(n))
		}
	}))
	family(cpu, each(func(_ App, l string, u reloader.Unit, add func(string, float64)) {
		if u.Running() {
			add(l, float64(u.CPU)/1e9)
		}
	}))
	family(memory, each(func(_ App, l string, u reloader.Unit, add func(string, float64)) {
		if u.Running() {
			add(l, float64(u.Memory))
		}
	}))
	family(started, each(func(_ App, l string, u reloader.Unit, add func(string, float64)) {
		if u.Running() && !u.Since.IsZero() {
			add(l, seconds(u.Since))
		}
	}))
	family(rollouts, func(add func(string, float64)) {
		for _, a := range apps {
			add(appLabel(a)+`,result="ok"`, float64(a.Counts.OK))
			add(appLabel(a)+`,result="failed"`, float64(a.Counts.Failed))
		}
	})
	last := func(m metric, v func(r *reloader.Report) float64) {
		family(m, func(add func(string, float64)) {
			for _, a := range apps {
				if r := a.Status.LastRollout; r != nil {
					add(appLabel(a), v(r))
				}
			}
		})
	}
	last(lastStart, func(r *reloader.Report) float64 { return seconds(r.Started) })
	last(lastTook, func(r *reloader.Report) float64 { return r.Took.Seconds() })
	last(lastOK, func(r *reloader.Report) float64 { return bool01(r.OK && !r.Running) })
	last(lastRunning, func(r *reloader.Report) float64 { return bool01(r.Running) })
	family(written, func(add func(string, float64)) { add("", seconds(now)) })
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFile writes the metrics to path at once (a temporary file renamed
// over it), readable by everyone: the node exporter runs as its own user.
func WriteFile(path string, apps []App, now time.Time) error {
	var b strings.Builder
	if err := Write(&b, apps, now); err != nil {
		return err
	}
	return units.WriteFileAtomic(path, []byte(b.String()), 0o644, nil)
}

// instanceOf is an instance's name within its app: "0" of app@0.service
// and of app-api@0.service, "spare" of app@spare.service.
func instanceOf(app, unit string) string {
	c := units.App
	if app != "" && app != units.App.AppName() {
		c = units.AppCluster(app)
	}
	if n, ok := c.InstanceNumber(unit); ok {
		return strconv.Itoa(n)
	}
	_, inst, _ := strings.Cut(strings.TrimSuffix(unit, ".service"), "@")
	return inst
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func seconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
