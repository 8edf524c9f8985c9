package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"example.com/app/e2e"
	"example.com/app/reloader"
)

// overheadRec is one rollout with no load, to see what the orchestration
// costs on top of the instances' own start-up.
type overheadRec struct {
	n, rep       int
	surge        bool
	total        time.Duration // app-reloader reload, wall time
	daemonReload time.Duration
	startups     time.Duration // sum of every started unit's Starting→Started
	started      int           // units started (instances, and the spare)
}

// perInstance is the overhead per configured instance.
func (r overheadRec) perInstance() time.Duration {
	return (r.total - r.startups) / time.Duration(r.n)
}

// measureOverhead scales the cluster to n instances, then times one
// rollout against systemd's own record of each instance's start-up.
func measureOverhead(ctx context.Context, m *e2e.Machine, config string, n, rep int) (overheadRec, error) {
	r := overheadRec{n: n, rep: rep}
	if err := m.WriteConfig(config); err != nil {
		return r, err
	}
	if out, err := m.Run(ctx, "app-reloader", "reload"); err != nil {
		return r, fmt.Errorf("scale to %d: %w: %s", n, err, out)
	}
	if err := m.WaitActive(ctx, 30*time.Second, e2e.Instances(n)...); err != nil {
		return r, err
	}
	time.Sleep(500 * time.Millisecond)
	since := time.Now()
	t0 := time.Now()
	out, err := m.Run(ctx, "app-reloader", "reload", "--json")
	r.total = time.Since(t0)
	if err != nil {
		return r, fmt.Errorf("reload: %w: %s", err, out)
	}
	var rep2 reloader.Report
	if err := json.NewDecoder(strings.NewReader(out[strings.Index(out, "{"):])).Decode(&rep2); err != nil {
		return r, fmt.Errorf("reload --json: %w", err)
	}
	r.daemonReload = rep2.DaemonReload
	evs, err := m.Events(ctx, since)
	if err != nil {
		return r, err
	}
	for _, d := range e2e.StartupTimes(evs) {
		r.startups += d
		r.started++
	}
	return r, nil
}

// actRec is one closed-loop run against one worker process, socket-
// activated or listening on its own.
type actRec struct {
	how, mode string
	rep       int
	rate      float64
	p50, p99  time.Duration
	failed    int
}

const (
	portPlain     = 18082
	portActivated = 18083
)

// startActivationPair starts the same binary twice as transient units: one
// listening itself, one on a socket systemd passes it.
func startActivationPair(ctx context.Context, m *e2e.Machine) error {
	for _, args := range [][]string{
		{"systemd-run", "--unit=bench-plain", "-p", "Type=notify", "--setenv=APP_INSTANCE=plain",
			"/usr/bin/app", "-listen", fmt.Sprintf("127.0.0.1:%d", portPlain)},
		{"systemd-run", "--unit=bench-activated", fmt.Sprintf("--socket-property=ListenStream=127.0.0.1:%d", portActivated),
			"--socket-property=Backlog=4096", "-p", "Type=notify", "--setenv=APP_INSTANCE=activated", "/usr/bin/app"},
	} {
		if out, err := m.Run(ctx, args...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
	}
	return nil
}

func measureActivation(ctx context.Context, o options, veg *e2e.Vegeta, how string, port int, mode string, rep int) (actRec, error) {
	r := actRec{how: how, mode: mode, rep: rep}
	dur := 5 * time.Second
	if o.quick {
		dur = 2 * time.Second
	}
	a, err := veg.Attack(ctx, e2e.AttackOptions{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), Workers: o.workers,
		Duration: dur, KeepAlive: mode == modeKA, Connections: o.workers})
	if err != nil {
		return r, err
	}
	hits, err := a.Wait(ctx)
	if err != nil {
		return r, err
	}
	st := e2e.Summarize(hits, time.Time{}, time.Time{})
	r.rate = float64(st.N-st.Failed) / dur.Seconds()
	r.p50, r.p99, r.failed = st.P50, st.P99, st.Failed
	time.Sleep(time.Second)
	return r, nil
}

// spreadRec is how long after a rollout keep-alive load took to spread
// over the instances again.
type spreadRec struct {
	label string
	rep   int
	// after is the time from the end of the rollout until every later
	// one-second window has max/min ≤ spreadGoal; -1 if not within the load.
	after  time.Duration
	window time.Duration // how long the load ran after the rollout
	final  float64       // max/min over the last 5 s
}

const spreadGoal = 1.5

// evenAfter is the start of the first of n one-second windows from t1
// from which every window is even (imbalance ≤ goal) to the last; -1 if
// the last is not.
func evenAfter(t1 time.Time, n int, goal float64, imbalance func(from, to time.Time) float64) time.Duration {
	after := time.Duration(-1)
	for i := 0; i < n; i++ {
		k := time.Duration(i) * time.Second
		switch {
		case imbalance(t1.Add(k), t1.Add(k+time.Second)) > goal:
			after = -1
		case after < 0:
			after = k
		}
	}
	return after
}

// measureSpread runs keep-alive load at a fixed rate through a rollout
// and for `window` after it, and finds when the load is spread again.
func measureSpread(ctx context.Context, o options, veg *e2e.Vegeta, sys system, label string, instances []string, rep int, window time.Duration) (spreadRec, error) {
	r := spreadRec{label: label, rep: rep, window: window}
	lead := 3 * time.Second
	total := lead + 8*time.Second + window
	a, err := attackAfter(ctx, veg, e2e.AttackOptions{URL: sys.url, Rate: o.rateKA, Duration: total, KeepAlive: true, Connections: o.workers}, lead)
	if err != nil {
		return r, err
	}
	rerr := sys.roll(ctx)
	t1 := time.Now()
	hits, err := a.Wait(ctx)
	if err != nil {
		return r, err
	}
	if rerr != nil {
		return r, fmt.Errorf("rollout: %w", rerr)
	}
	end := hits[len(hits)-1].At
	r.window = end.Sub(t1).Round(time.Second)
	// The whole one-second windows that end before the last request.
	windows := int((end.Sub(t1) - 1) / time.Second)
	r.after = evenAfter(t1, windows, spreadGoal, func(from, to time.Time) float64 {
		return e2e.Imbalance(e2e.Shares(hits, from, to), instances)
	})
	r.final = e2e.Imbalance(e2e.Shares(hits, end.Add(-5*time.Second), end), instances)
	time.Sleep(time.Second)
	return r, nil
}
