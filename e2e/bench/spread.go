//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"example.com/app/e2e"
)

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

// spreads measures how soon keep-alive load spreads over the instances
// again after a rollout, with the connection caps on and off, and pm2.
func (b *bench) spreads() ([]spreadRec, error) {
	fmt.Fprintln(b.w, "== keep-alive load spreading again after a rollout")
	var spreads []spreadRec
	noCap := b.configs.goWorker + "[env]\nAPP_MAX_CONN_AGE = \"0\"\nAPP_MAX_CONN_REQUESTS = \"0\"\n"
	spreadRuns := []struct {
		label string
		sys   system
	}{
		{"app, Go worker, connection caps on (default: 6 s, or 1000 requests)", system{url: b.systems[0].url, setup: b.useConfig(b.configs.goWorker), roll: b.reload}},
		{"app, Go worker, connection caps off", system{url: b.systems[0].url, setup: b.useConfig(noCap), roll: b.reload}},
		{"pm2, Node worker (no cap)", b.systems[2]},
	}
	window := 32 * time.Second
	if b.o.quick {
		window = 10 * time.Second
	}
	for rep := 1; rep <= b.o.reps; rep++ {
		for k := range spreadRuns {
			sr := spreadRuns[(k+rep-1)%len(spreadRuns)]
			if err := sr.sys.setup(b.ctx); err != nil {
				return nil, err
			}
			r, err := measureSpread(b.ctx, b.o, b.veg, sr.sys, sr.label, b.names, rep, window)
			if err != nil {
				return nil, fmt.Errorf("spread, %s: %w", sr.label, err)
			}
			fmt.Fprintf(b.w, "[rep %d] %-68s spread again after %s; max/min over the last 5 s %.2f\n", rep, sr.label, spreadAfter(r), r.final)
			spreads = append(spreads, r)
		}
	}
	return spreads, nil
}
