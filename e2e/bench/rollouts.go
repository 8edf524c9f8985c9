//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"example.com/app/e2e"
)

// record is one measured rollout under load, with the throughput run that
// preceded it.
type record struct {
	system, mode string
	rep          int
	throughput   float64 // closed loop, requests/s
	clientCPU    float64 // the load generator's share of the CPUs in that run
	steady       e2e.Stats
	during       e2e.Stats
	rollout      time.Duration
	failed       int // over the whole fixed-rate attack
	sent         int
	errs         map[string]int
	// Share of requests by instance, before the rollout and from 1 s after
	// it to the end of the load.
	shareBefore, shareAfter map[string]int
	// The fixed-rate attack's requests and the rollout's bounds, for plots.
	hits   []e2e.Hit
	t0, t1 time.Time
	marks  []mark
}

// rollouts measures each system's throughput and a rollout under
// fixed-rate load, both load modes, every repetition.
func (b *bench) rollouts() ([]record, error) {
	var recs []record
	for rep := 1; rep <= b.o.reps; rep++ {
		// Interleaved, and the order rotates so that no system always runs
		// first (or right after another) in a repetition.
		for k := range b.systems {
			sys := b.systems[(k+rep-1)%len(b.systems)]
			if err := sys.setup(b.ctx); err != nil {
				return nil, fmt.Errorf("%s: %w", sys.name, err)
			}
			for _, mode := range []string{modeKA, modeNew} {
				r, err := measure(b.ctx, b.o, b.veg, sys, mode, rep)
				if err != nil {
					return nil, fmt.Errorf("%s, %s, rep %d: %w", sys.name, mode, rep, err)
				}
				fmt.Fprintf(b.w, "[rep %d] %-17s %-27s %7.0f req/s (client %2.0f%% CPU) | steady p99 %6s | rollout %6s, p99 %6s | failed %d of %d\n",
					rep, sys.name, mode, r.throughput, 100*r.clientCPU, ms(r.steady.P99), secs(r.rollout), ms(r.during.P99), r.failed, r.sent)
				recs = append(recs, r)
			}
		}
	}
	return recs, nil
}

// measure runs the closed-loop throughput attack, then the fixed-rate
// attack with a rollout in its middle.
func measure(ctx context.Context, o options, veg *e2e.Vegeta, sys system, mode string, rep int) (record, error) {
	r := record{system: sys.name, mode: mode, rep: rep}
	ka := mode == modeKA
	lead, total := 3*time.Second, 15*time.Second
	if o.quick {
		lead, total = 2*time.Second, 10*time.Second
	}

	tp, cpu, err := closedLoop(ctx, o, veg, sys.url, ka)
	if err != nil {
		return r, err
	}
	r.throughput, r.clientCPU = tp, cpu

	rate := o.rateNew
	if ka {
		rate = o.rateKA
	}
	a, err := attackAfter(ctx, veg, e2e.AttackOptions{URL: sys.url, Rate: rate, Duration: total, KeepAlive: ka, Connections: o.workers}, lead)
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	rerr := sys.roll(ctx)
	t1 := time.Now()
	r.rollout = t1.Sub(t0)
	hits, err := a.Wait(ctx)
	if err != nil {
		return r, err
	}
	if rerr != nil {
		return r, fmt.Errorf("rollout: %w", rerr)
	}
	if t1.After(a.Started.Add(total - time.Second)) {
		return r, errors.New("the rollout outlasted the load; raise the attack duration")
	}
	// Steady: from the first half-second (connections warm) to the rollout.
	r.steady = e2e.Summarize(hits, a.Started.Add(500*time.Millisecond), t0)
	r.during = e2e.Summarize(hits, t0, t1)
	r.shareBefore = e2e.Shares(hits, a.Started.Add(500*time.Millisecond), t0)
	r.shareAfter = e2e.Shares(hits, t1.Add(time.Second), time.Time{})
	r.hits, r.t0, r.t1 = hits, t0, t1
	if sys.events != nil {
		evs, err := sys.events(ctx, a.Started)
		if err != nil {
			return r, err
		}
		r.marks = restartMarks(evs)
	}
	all := e2e.Summarize(hits, time.Time{}, time.Time{})
	r.failed, r.sent, r.errs = all.Failed, all.N, all.Errors
	time.Sleep(time.Second)
	return r, nil
}

// closedLoop is the throughput, in requests/s, of a closed loop of
// o.workers clients, and the share of the CPUs the client took.
func closedLoop(ctx context.Context, o options, veg *e2e.Vegeta, url string, ka bool) (float64, float64, error) {
	dur := 4 * time.Second
	if o.quick {
		dur = 2 * time.Second
	}
	a, err := veg.Attack(ctx, e2e.AttackOptions{URL: url, Workers: o.workers, Duration: dur, KeepAlive: ka, Connections: o.workers})
	if err != nil {
		return 0, 0, err
	}
	hits, err := a.Wait(ctx)
	if err != nil {
		return 0, 0, err
	}
	tp := e2e.Summarize(hits, time.Time{}, time.Time{})
	time.Sleep(time.Second) // let TIME_WAIT and the run queue settle
	return float64(tp.N-tp.Failed) / dur.Seconds(), a.ClientCPU, nil
}
