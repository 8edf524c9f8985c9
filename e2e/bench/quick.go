//go:build linux

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"example.com/app/e2e"
)

// headlineRow is one line of make bench-quick's table: a ratio or a count,
// per repetition, with how it was paired and the goal it is held to.
type headlineRow struct {
	what, pairing, goal string
	format              string
	vals                []float64
	cpu                 []float64 // the client's CPU share in the row's runs, %
	ok                  func(mid float64) bool
}

// headline is `make bench-quick`: the ratios the README's summary rests on,
// each measured side by side within its repetition (A B B A, or one run
// right after the other), in a few minutes, for iterating. `make bench` is
// the record.
func (b *bench) headline() (string, error) {
	if err := b.startPM2(); err != nil {
		return "", err
	}
	appGo, appNode, pm2 := b.systems[0], b.systems[1], b.systems[2]
	var t headlineTable
	row := t.row
	sats, note, err := b.besidePM2(&t, []system{appGo, appNode}, pm2)
	if err != nil {
		return "", err
	}
	satRows(&t, sats, pm2.name)
	if note != "" {
		fmt.Fprintln(b.w, note)
	}

	fmt.Fprintln(b.w, "== one rollout under load each, fixed rate")
	// The Node worker on SO_REUSEPORT sockets too, steered (reloader/steer):
	// what makes Node's shares even, where its runtime cannot take turns.
	nodeReuse := nodeSocketSystems(b.o, b.m, b.url(), b.configs.goWorker, b.reload)[2]
	for _, sys := range []system{appGo, appNode, nodeReuse, pm2} {
		if err := sys.setup(b.ctx); err != nil {
			return "", fmt.Errorf("%s: %w", sys.name, err)
		}
		for _, mode := range []string{modeKA, modeNew} {
			rec, err := measure(b.ctx, b.o, b.veg, sys, mode, 1)
			if err != nil {
				return "", fmt.Errorf("%s, %s: %w", sys.name, mode, err)
			}
			fmt.Fprintf(b.w, "%s, %s: failed %d of %d, p99 %s → %s during the rollout (%s)\n", sys.name, mode, rec.failed, rec.sent, ms(rec.steady.P99), ms(rec.during.P99), secs(rec.rollout))
			failed := row(fmt.Sprintf("%s, failed requests through a rollout, both load modes", sys.name), "the same fixed-rate load", "0", "%.0f", atMost(0))
			if len(failed.vals) == 0 {
				failed.vals = []float64{0}
			}
			failed.vals[0] += float64(rec.failed)
			row(fmt.Sprintf("%s, p99 during a rollout ÷ steady, %s", sys.name, mode), "the same fixed-rate load", "≤ 1.5", "%.2f", atMost(1.5)).vals = []float64{ratio(rec.during.P99, rec.steady.P99)}
			if mode == modeNew {
				// Ours take connections themselves; pm2's master deals them out.
				goal, ok := "≤ 1.25", atMost(1.25)
				if sys.events == nil {
					goal, ok = "(pm2's master deals them out)", nil
				}
				row(fmt.Sprintf("%s, new connections' shares, max ÷ min", sys.name), "the same fixed-rate load, before the rollout", goal, "%.2f", ok).vals = []float64{e2e.Imbalance(rec.shareBefore, b.names)}
			}
		}
	}
	// Back to the shared socket, a change of socket mode.
	if err := useSocketMode(b.m, b.configs.goWorker, b.o.instances)(b.ctx); err != nil {
		return "", err
	}

	fmt.Fprintln(b.w, "== the worker against bare net/http, both socket-activated, A B B A")
	if err := startActivationUnits(b.ctx, b.m); err != nil {
		return "", err
	}
	for _, by := range []servedBy{byActivated, byBare} { // warm up; not kept
		if _, err := measureActivation(b.ctx, b.o, b.veg, by, modeKA, 0); err != nil {
			return "", err
		}
	}
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, mode := range []string{modeKA, modeNew} {
			x, y, err := abba(b.ctx, b.o, b.veg, byActivated, byBare, mode, pairBare, rep)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(b.w, "[rep %d] the worker %.0f req/s, bare %.0f req/s, %s: ratio %.3f\n", rep, x.rate, y.rate, mode, x.rate/y.rate)
			r := row("the worker ÷ bare net/http, "+mode, "A B B A", "≥ 0.95", "%.3f", atLeast(0.95))
			r.vals = append(r.vals, x.rate/y.rate)
			r.cpu = append(r.cpu, 100*x.clientCPU, 100*y.clientCPU)
		}
	}

	fmt.Fprintln(b.w, "== rollout overhead, 2 instances, surge on, no load")
	for rep := 1; rep <= b.o.reps; rep++ {
		ov, err := measureOverhead(b.ctx, b.m, fmt.Sprintf("listen = [%q]\ninstances = 2\ncanary_uptime = \"0s\"\n", b.ours), 2, rep)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(b.w, "[rep %d] rollout %s, own start-ups %s → %s per instance\n", rep, secs(ov.total), secs(ov.startups), ms(ov.perInstance()))
		r := row("rollout overhead per instance (ms), 2 instances, surge on", "the rollout against systemd's record of each start-up", "≤ 50", "%.0f", atMost(50))
		r.vals = append(r.vals, float64(ov.perInstance())/float64(time.Millisecond))
	}
	return renderHeadline(t.rows, b.o.reps), nil
}

// headlineTable is make bench-quick's table, built as the runs go.
type headlineTable struct{ rows []*headlineRow }

// row is the row named what, made on first use.
func (t *headlineTable) row(what, pairing, goal, format string, ok func(float64) bool) *headlineRow {
	for _, r := range t.rows {
		if r.what == what {
			return r
		}
	}
	r := &headlineRow{what: what, pairing: pairing, goal: goal, format: format, ok: ok}
	t.rows = append(t.rows, r)
	return r
}

func atLeast(x float64) func(float64) bool { return func(v float64) bool { return v >= x } }

func atMost(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }

// besidePM2 measures each of ours against pm2's throughput, closed loop,
// A B B A in every repetition, with both load generators and both load
// modes, into t; and the steady p99 under saturating load, in each
// setting of the scheduler (note: one not measured, and why).
func (b *bench) besidePM2(t *headlineTable, ours []system, pm2 system) (sats []satRec, note string, err error) {
	fmt.Fprintln(b.w, "== throughput beside pm2, closed loop, A B B A, with vegeta and with wrk")
	row := t.row
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, sys := range ours {
			if err := sys.setup(b.ctx); err != nil {
				return nil, "", fmt.Errorf("%s: %w", sys.name, err)
			}
			for _, c := range loadClients(b.o) {
				for _, mode := range []string{modeKA, modeNew} {
					rate, cpu := map[string]float64{}, []float64{}
					for _, s := range abbaOrder(sys, pm2, rep) {
						tp, c, err := c.run(b.ctx, b.veg, s.url, mode == modeKA)
						if err != nil {
							return nil, "", fmt.Errorf("%s, %s: %w", s.name, mode, err)
						}
						rate[s.name] += tp / 2
						cpu = append(cpu, 100*c)
					}
					x := rate[sys.name] / rate[pm2.name]
					fmt.Fprintf(b.w, "[rep %d] %s: %s %.0f req/s, %s %.0f req/s, %s: ratio %.3f (the client's CPU share: %s)\n", rep, c.name, sys.name, rate[sys.name], pm2.name, rate[pm2.name], mode, x, percents(cpu))
					r := row(fmt.Sprintf("%s ÷ %s, throughput, %s, %s", sys.name, pm2.name, mode, c.name), "A B B A", "≥ 1.00", "%.2f", atLeast(1))
					r.vals = append(r.vals, x)
					r.cpu = append(r.cpu, cpu...)
				}
			}
			rs, n, err := b.saturated(sys, pm2, rep)
			if err != nil {
				return nil, "", fmt.Errorf("%s, saturating load: %w", sys.name, err)
			}
			sats, note = append(sats, rs...), n
		}
	}
	return sats, note, nil
}

// loadClient is a closed-loop load generator: the throughput it measured
// at url and its own share of the CPUs.
type loadClient struct {
	name string
	run  func(ctx context.Context, veg *e2e.Vegeta, url string, ka bool) (rate, cpu float64, err error)
}

// loadClients are the two load generators the throughput is measured
// with, side by side: vegeta (Go, o.workers clients, records every
// request) and wrk (C, one thread, as many connections: much lighter).
func loadClients(o options) []loadClient {
	return []loadClient{
		{"vegeta", func(ctx context.Context, veg *e2e.Vegeta, url string, ka bool) (float64, float64, error) {
			return closedLoop(ctx, o, veg, url, ka)
		}},
		{"wrk", func(ctx context.Context, _ *e2e.Vegeta, url string, ka bool) (float64, float64, error) {
			dur := 4 * time.Second
			if o.quick {
				dur = 2 * time.Second
			}
			r, err := e2e.Wrk(ctx, e2e.WrkOptions{URL: url, Threads: 1, Connections: o.workers, Duration: dur, NewConnections: !ka})
			if err != nil {
				return 0, 0, err
			}
			if r.Errors > 0 {
				return 0, 0, fmt.Errorf("wrk: %d errors at %s", r.Errors, url)
			}
			time.Sleep(time.Second) // let TIME_WAIT and the run queue settle
			return r.Rate, r.ClientCPU, nil
		}},
	}
}

// percents lists shares, in %, as "42 44 48 40 %".
func percents(xs []float64) string {
	var s strings.Builder
	for _, x := range xs {
		fmt.Fprintf(&s, "%.0f ", x)
	}
	return s.String() + "%"
}

func renderHeadline(rows []*headlineRow, reps int) string {
	return fmt.Sprintf("\n## Headline figures (make bench-quick: %d repetitions, short runs; make bench is the record)\n\n", reps) + renderRows(rows)
}

// renderRows is a table of rows with their pairing, goal and verdict.
func renderRows(rows []*headlineRow) string {
	var s strings.Builder
	s.WriteString("| figure | paired | min / **median** / max | goal | met | the client's CPU share |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		met := ""
		if r.ok != nil && len(r.vals) > 0 {
			_, mid, _ := spread(r.vals)
			met = "missed"
			if r.ok(mid) {
				met = "met"
			}
		}
		cpu := ""
		if len(r.cpu) > 0 {
			cpu = fx(r.cpu, "%.0f") + " %"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s |\n", r.what, r.pairing, fx(r.vals, r.format), r.goal, met, cpu)
	}
	return s.String()
}
