//go:build linux

package main

import (
	"fmt"
	"math"

	"sort"
	"strings"
	"time"

	"example.com/app/e2e"
)

// results are everything a bench run measured, for the document.
type results struct {
	o         options
	recs      []record
	acts      []actRec
	ovs       []overheadRec
	spreads   []spreadRec
	canary    []canaryRec
	sockets   socketRun
	beside    []*headlineRow // throughput beside pm2, with both load generators
	sats      []satRec       // steady p99 under saturating load, beside pm2
	satNote   string         // a setting not measured, and why
	scaling   []scalingRec
	instances []string
	plots     map[string]string
	machine   string
	took      time.Duration
}

// doc is the document being written.
type doc struct{ strings.Builder }

func (d *doc) p(format string, a ...any) { fmt.Fprintf(&d.Builder, format, a...) }

// systems are the systems measured, in the order they were first run.
func (r results) systems() []string { return order(r.recs, func(r record) string { return r.system }) }

// render writes BENCHMARKS.md from the results, section by section.
func render(r results) string {
	d := &doc{}
	for _, section := range []func(*doc, results){
		header, rollouts, twoClients, satSection, latencyPlots, fairness, spreadSection, sideBySide,
		activation, overhead, scalingSection, errorsSeen, goals,
	} {
		section(d, r)
	}
	d.WriteString(gaps)
	d.WriteString(renderCanary(r.canary))
	d.WriteString(renderSockets(r.sockets, r.instances))
	return d.String()
}

// twoClients is the throughput beside pm2 measured with vegeta and with
// wrk, side by side.
func twoClients(d *doc, r results) {
	if len(r.beside) == 0 {
		return
	}
	d.p("## Throughput beside pm2, with two load generators\n\n")
	d.p("Each of ours against pm2 with the same load generator, closed loop, %d connections for 4 s, in the order A B B A in every repetition (B A A B in even ones), ratio = ours ÷ pm2, the mean of each one's two runs; with vegeta (Go: %d workers, every request recorded) and with wrk (Debian's, C: one thread, as many connections), and the load generator's own share of the machine's CPUs in those runs. On 2 CPUs whatever the client takes the servers do not get: a verdict that changes with the client is a verdict about the client.\n\n", r.o.workers, r.o.workers)
	d.WriteString(renderRows(r.beside))
	d.p("\n")
}

// header says how the run was made.
func header(d *doc, r results) {
	o, took, machine := r.o, r.took, r.machine
	d.p("# Benchmarks\n\n")
	d.p("Written by `make bench` (`go run ./e2e/bench`) on %s in %s. Everything below comes from that one run;\n", time.Now().UTC().Format("2006-01-02"), took.Round(time.Second))
	d.p("rerun it to reproduce. These machines are noisy: compare the ratios, measured side by side, more than the absolute figures.\n\n")
	d.p("- Machine: %s.\n", machine)
	d.p("- Both managers run in the same throwaway systemd (systemd-nspawn), %d instances each, at the same time; only the one under test gets load.\n", o.instances)
	d.p("- Workers: `app, Go worker` is `/usr/bin/app` under our units; `app, Node worker` and `pm2, Node worker` are the same file, `worker/node/worker.js`, under our units and under pm2 cluster mode (`wait_ready`, `listen_timeout` 50 s, `kill_timeout` 5 s, SIGINT → `Connection: close`: the recipe pm2 users follow).\n")
	d.p("- Rollout: `app-reloader reload` (defaults: surge on) against `pm2 reload`, each timed from the start of the command to its return.\n")
	d.p("- Load: vegeta on the host's loopback. Throughput is a closed loop of %d clients for 4 s. Latency is a fixed-rate (open-loop) attack, %d req/s over %d keep-alive connections or %d req/s with a new connection per request, for 15 s, with the rollout started 3 s in. \"Steady\" is the window from 0.5 s to the rollout, \"during\" the rollout itself. A failed request is any error (a client timeout is 10 s) or a status other than 200.\n", o.workers, o.rateKA, o.workers, o.rateNew)
	d.p("- Every figure is min / **median** / max over %d repetitions, interleaved: each repetition runs every system in turn, in a rotating order.\n\n", o.reps)
}

// rollouts is the rollout-under-load table of each load mode.
func rollouts(d *doc, r results) {
	recs, systems := r.recs, r.systems()
	for _, mode := range []string{modeKA, modeNew} {
		d.p("## Rollout under load, %s\n\n", mode)
		d.p("| system | failed / sent | throughput (req/s) | the client's CPU share | steady p50 | steady p99 | steady p99.9 | during p50 | during p99 | during p99.9 | p99 during ÷ steady | rollout |\n")
		d.p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, sys := range systems {
			rs := pick(recs, sys, mode)
			if len(rs) == 0 {
				continue
			}
			failed, sent := failedOf(rs)
			d.p("| %s | %d / %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sys, failed, sent,
				f(rs, func(r record) float64 { return r.throughput }, "%.0f"),
				f(rs, func(r record) float64 { return 100 * r.clientCPU }, "%.0f%%"),
				lat(rs, func(r record) time.Duration { return r.steady.P50 }),
				lat(rs, func(r record) time.Duration { return r.steady.P99 }),
				lat(rs, func(r record) time.Duration { return r.steady.P999 }),
				lat(rs, func(r record) time.Duration { return r.during.P50 }),
				lat(rs, func(r record) time.Duration { return r.during.P99 }),
				lat(rs, func(r record) time.Duration { return r.during.P999 }),
				f(rs, func(r record) float64 { return ratio(r.during.P99, r.steady.P99) }, "%.2f"),
				f(rs, func(r record) float64 { return r.rollout.Seconds() }, "%.2fs"))
		}
		d.p("\n")
	}

}

// latencyPlots shows every request of one rollout per system.
func latencyPlots(d *doc, r results) {
	plots, systems := r.plots, r.systems()
	d.p("### Latency through one rollout (repetition 1, keep-alive)\n\n")
	d.p("Every request's latency, in the order sent; dashed lines bound the rollout, red lines mark each instance becoming ready (systemd's journal), so the stalls can be matched to restarts.\n\n")
	for _, sys := range systems {
		if png, ok := plots[sys]; ok {
			d.p("![%s](%s)\n\n", sys, png)
		}
	}

}

// fairness is each instance's share of requests, before and after a rollout.
func fairness(d *doc, r results) {
	recs, systems, instances, plots := r.recs, r.systems(), r.instances, r.plots
	d.p("## Fairness: share of requests by instance\n\n")
	d.p("max ÷ min of the requests each instance served (%s), before the rollout and from 1 s after it to the end of the load; 1.00 is even, ∞ means an instance got none.\n\n", strings.Join(instances, ", "))
	d.p("| system | load | before | after |\n| --- | --- | --- | --- |\n")
	for _, sys := range systems {
		for _, mode := range []string{modeNew, modeKA} {
			rs := pick(recs, sys, mode)
			if len(rs) == 0 {
				continue
			}
			bf := f(rs, func(r record) float64 { return e2e.Imbalance(r.shareBefore, instances) }, "%.2f")
			af := f(rs, func(r record) float64 { return e2e.Imbalance(r.shareAfter, instances) }, "%.2f")
			d.p("| %s | %s | %s | %s |\n", sys, mode, bf, af)
		}
	}
	d.p("\n")
	for _, mode := range []string{modeKA, modeNew} {
		if png, ok := plots[mode]; ok {
			d.p("![shares, %s](%s)\n\n", mode, png)
		}
	}
}

// spreadSection is how soon keep-alive load spreads again after a rollout.
func spreadSection(d *doc, r results) {
	spreads := r.spreads
	d.p("### Keep-alive load spreading again after a rollout\n\n")
	d.p("Keep-alive load at a fixed rate through a rollout and %s after it. \"Spread again\" is the time from the end of the rollout until every later one-second window has max ÷ min ≤ %.1f. The load is vegeta's (2000 requests/s, up to 16 connections), which at this rate keeps only a few connections busy, so a one-second window weighs one or two connections: this is what a client with a small pool sees. The four-figure table at the end measures the spread with 32 paced keep-alive clients instead, each instance's share of requests being its share of connections.\n\n", secsOf(spreads), spreadGoal)
	d.p("| setup | spread again after (min / median / max) | max ÷ min over the last 5 s |\n| --- | --- | --- |\n")
	for _, label := range order2(spreads) {
		var after []string
		var final []float64
		for _, r := range spreads {
			if r.label == label {
				after = append(after, spreadAfter(r))
				final = append(final, r.final)
			}
		}
		d.p("| %s | %s | %s |\n", label, strings.Join(after, ", "), fx(final, "%.2f"))
	}
	d.p("\n")

}

// sideBySide pairs app and pm2 within each repetition.
func sideBySide(d *doc, r results) {
	recs, systems := r.recs, r.systems()
	d.p("## Side by side: app ÷ pm2, per repetition\n\n")
	d.p("Each ratio pairs the runs of one repetition (same minutes, same machine state); above 1 means app is higher.\n\n")
	d.p("| comparison | load | throughput | steady p99 | during p99 | rollout time |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, sys := range systems {
		if strings.HasPrefix(sys, "pm2") {
			continue
		}
		for _, mode := range []string{modeKA, modeNew} {
			var tp, sp, dp, rt []float64
			for _, a := range pick(recs, sys, mode) {
				for _, c := range pick(recs, "pm2, Node worker", mode) {
					if c.rep != a.rep {
						continue
					}
					tp = append(tp, a.throughput/c.throughput)
					sp = append(sp, ratio(a.steady.P99, c.steady.P99))
					dp = append(dp, ratio(a.during.P99, c.during.P99))
					rt = append(rt, a.rollout.Seconds()/c.rollout.Seconds())
				}
			}
			if len(tp) == 0 {
				continue
			}
			d.p("| %s ÷ pm2 | %s | %s | %s | %s | %s |\n", sys, mode, fx(tp, "%.2f"), fx(sp, "%.2f"), fx(dp, "%.2f"), fx(rt, "%.2f"))
		}
	}
	d.p("\n")

}

// actPairs are, per repetition of one comparison and load mode, the two
// setups' records: x is the worker (socket-activated), y what it is
// compared with.
func actPairs(acts []actRec, pair, mode string) (xs, ys []actRec) {
	for _, x := range acts {
		if x.pair != pair || x.mode != mode || x.how != byActivated.name {
			continue
		}
		for _, y := range acts {
			if y.pair == pair && y.mode == mode && y.rep == x.rep && y.how != x.how {
				xs, ys = append(xs, x), append(ys, y)
			}
		}
	}
	return xs, ys
}

// activation compares the worker socket-activated and listening itself,
// and the worker with bare net/http.
func activation(d *doc, r results) {
	o, acts := r.o, r.acts
	table := func(pair, yName, ratioName string) {
		d.p("| load | %s (req/s) | the worker, socket-activated (req/s) | %s | p99 %s | p99 the worker | the client's CPU share |\n| --- | --- | --- | --- | --- | --- | --- |\n", yName, ratioName, yName)
		for _, mode := range []string{modeKA, modeNew} {
			xs, ys := actPairs(acts, pair, mode)
			if len(xs) == 0 {
				continue
			}
			var xr, yr, ratios, p99x, p99y, cpu []float64
			for i := range xs {
				xr, yr = append(xr, xs[i].rate), append(yr, ys[i].rate)
				ratios = append(ratios, xs[i].rate/ys[i].rate)
				p99x = append(p99x, float64(xs[i].p99)/float64(time.Millisecond))
				p99y = append(p99y, float64(ys[i].p99)/float64(time.Millisecond))
				cpu = append(cpu, 100*xs[i].clientCPU, 100*ys[i].clientCPU)
			}
			d.p("| %s | %s | %s | %s | %s ms | %s ms | %s %% |\n", mode, fx(yr, "%.0f"), fx(xr, "%.0f"), fx(ratios, "%.3f"), fx(p99y, "%.2f"), fx(p99x, "%.2f"), fx(cpu, "%.0f"))
		}
		d.p("\n")
	}
	d.p("## Cost of socket activation\n\n")
	d.p("The same binary (`/usr/bin/app`) as two transient units: one listening on its own address, one on a socket systemd passes it (`systemd-run --socket-property=ListenStream=…`). Closed loop, %d clients, 5 s per run, in the order A B B A within each repetition (so that drift cancels), each figure the mean of the two runs; ratio = activated ÷ listening itself, paired within each repetition.\n\n", o.workers)
	table(pairActivation, "listening itself", "activated ÷ itself")
	d.p("### What the worker's guarantees cost\n\n")
	d.p("The reference worker against a bare `net/http` server (`e2e/bench/bare`: the same response and the same two headers, on a socket systemd passes it too; no drain, no connection caps, no request count, no timeouts, no mux), both socket-activated transient units, A B B A as above; ratio = the worker ÷ bare (goal ≥ 0.95).\n\n")
	table(pairBare, "bare net/http", "the worker ÷ bare")
}

// overhead is what a rollout costs beyond the instances' own start-up.
func overhead(d *doc, r results) {
	ovs := r.ovs
	d.p("## Rollout overhead by instance count\n\n")
	d.p("No load. `app-reloader reload` (surge on: the spare, then every instance, then the spare stopped; surge off: every instance), timed from the command's start to its return, against the sum of every started unit's own start-up (systemd's `Starting` to `Started` in the journal: exec to `READY=1`). Overhead per instance = (rollout − start-ups) ÷ instances; daemon-reload would be part of it and is shown apart (0 when skipped: nothing changed). With surge off there is no spare to start and stop.\n\n")
	d.p("| instances | surge | rollout | daemon-reload | sum of own start-ups | overhead per instance |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, n := range []int{2, 4, 8} {
		for _, surge := range []bool{true, false} {
			var rs []overheadRec
			for _, r := range ovs {
				if r.n == n && r.surge == surge {
					rs = append(rs, r)
				}
			}
			if len(rs) == 0 {
				continue
			}
			g := func(v func(overheadRec) float64, format string) string {
				xs := make([]float64, len(rs))
				for i, r := range rs {
					xs[i] = v(r)
				}
				return fx(xs, format)
			}
			d.p("| %d | %s | %s s | %s s | %s s | %s ms |\n", n, map[bool]string{true: "on", false: "off"}[surge],
				g(func(r overheadRec) float64 { return r.total.Seconds() }, "%.2f"),
				g(func(r overheadRec) float64 { return r.daemonReload.Seconds() }, "%.2f"),
				g(func(r overheadRec) float64 { return r.startups.Seconds() }, "%.2f"),
				g(func(r overheadRec) float64 { return float64(r.perInstance()) / float64(time.Millisecond) }, "%.0f"))
		}
	}
	d.p("\n")

}

// errorsSeen lists every failed request's error.
func errorsSeen(d *doc, r results) {
	recs := r.recs
	d.p("## Errors seen\n\n")
	any := false
	for _, r := range recs {
		if len(r.errs) == 0 {
			continue
		}
		any = true
		var es []string
		for e, n := range r.errs {
			es = append(es, fmt.Sprintf("%d× %s", n, e))
		}
		sort.Strings(es)
		d.p("- %s, %s, repetition %d: %s\n", r.system, r.mode, r.rep, strings.Join(es, "; "))
	}
	if !any {
		d.p("None: every request of every run succeeded.\n")
	}
}

// goals puts each goal beside its result.
func goals(d *doc, r results) {
	recs, systems, ovs, spreads := r.recs, r.systems(), r.ovs, r.spreads
	worstAct, worstOv, worstNew, worstSpread := worstActivation(r.acts, pairActivation), worstOverhead(ovs), worstNewShares(recs, r.instances), worstSpreadAfter(spreads)
	d.p("\n## Goals\n\n")
	d.p("| goal | system | result |\n| --- | --- | --- |\n")
	if worstAct >= 0 {
		d.p("| socket-activated ≥ 0.98 × listening itself | app, Go worker | %s |\n", verdict(worstAct >= 0.98, fmt.Sprintf("median ratio %.3f in the worse load", worstAct)))
	}
	if worstBare := worstActivation(r.acts, pairBare); worstBare >= 0 {
		d.p("| the worker ≥ 0.95 × bare net/http, keep-alive and new connections | app, Go worker | %s |\n", verdict(worstBare >= 0.95, fmt.Sprintf("median ratio %.3f in the worse load", worstBare)))
	}
	if g, ok := scalingGrowth(r.scaling); ok {
		d.p("| cost grows linearly: overhead per instance at %d instances ≤ 1.5 × at %d | app, surge on (the default) | %s |\n", scalingCounts[len(scalingCounts)-1], scalingCounts[0], verdict(g <= 1.5, fmt.Sprintf("%.2f×", g)))
	}
	if len(ovs) > 0 {
		d.p("| rollout overhead ≤ 50 ms per instance | app, surge on (the default) | %s |\n", verdict(worstOv <= 50*time.Millisecond, fmt.Sprintf("median %s at worst", worstOv.Round(time.Millisecond))))
	}
	for _, sys := range systems {
		if w, ok := worstNew[sys]; ok {
			d.p("| fairness max/min ≤ 1.25 with new connections | %s | %s |\n", sys, verdict(w <= 1.25, fmt.Sprintf("worst run %.2f", w)))
		}
	}
	if len(spreads) > 0 {
		detail := "worst run " + worstSpread.String()
		if worstSpread == time.Hour {
			detail = "not spread within the load in some run"
		}
		d.p("| keep-alive load spread again (≤ 1.5) within 30 s of a rollout | app, caps on | %s |\n", verdict(worstSpread <= 30*time.Second, detail))
	}
	for _, row := range satGoals(r.sats) {
		d.WriteString(row)
	}
	for _, sys := range systems {
		failed := 0
		var worst float64
		for _, r := range recs {
			if r.system == sys {
				failed += r.failed
				worst = max(worst, ratio(r.during.P99, r.steady.P99))
			}
		}
		d.p("| 0 failed requests in every rollout | %s | %s |\n", sys, verdict(failed == 0, fmt.Sprintf("%d failed", failed)))
		d.p("| p99 during a rollout ≤ 1.5 × steady p99 | %s | %s |\n", sys, verdict(worst <= 1.5, fmt.Sprintf("worst run %.2f×", worst)))
	}
}

// failedOf is the failed and the sent requests of the runs, summed.
func failedOf(rs []record) (failed, sent int) {
	for _, r := range rs {
		failed += r.failed
		sent += r.sent
	}
	return failed, sent
}

// worstActivation is the lower median ratio of the worker to what pair
// compares it with, over the load modes; -1 without runs.
func worstActivation(acts []actRec, pair string) float64 {
	worst := -1.0
	for _, mode := range []string{modeKA, modeNew} {
		xs, ys := actPairs(acts, pair, mode)
		var ratios []float64
		for i := range xs {
			ratios = append(ratios, xs[i].rate/ys[i].rate)
		}
		if len(ratios) == 0 {
			continue
		}
		if _, mid, _ := spread(ratios); worst < 0 || mid < worst {
			worst = mid
		}
	}
	return worst
}

// worstOverhead is the highest median overhead per instance with surge on.
func worstOverhead(ovs []overheadRec) time.Duration {
	var worst time.Duration
	for _, n := range []int{2, 4, 8} {
		var per []float64
		for _, r := range ovs {
			if r.n == n && r.surge {
				per = append(per, float64(r.perInstance())/float64(time.Millisecond))
			}
		}
		if len(per) > 0 {
			_, mid, _ := spread(per)
			worst = max(worst, time.Duration(mid*float64(time.Millisecond)))
		}
	}
	return worst
}

// worstNewShares is, per system under app, the worst max ÷ min of the
// instances' shares of new connections, before or after a rollout.
func worstNewShares(recs []record, instances []string) map[string]float64 {
	worst := map[string]float64{}
	for _, r := range recs {
		if r.mode == modeNew && !strings.HasPrefix(r.system, "pm2") {
			worst[r.system] = max(worst[r.system], e2e.Imbalance(r.shareBefore, instances), e2e.Imbalance(r.shareAfter, instances))
		}
	}
	return worst
}

// worstSpreadAfter is the longest time, with the caps on, until keep-alive
// load spread again; an hour when it did not within the load.
func worstSpreadAfter(spreads []spreadRec) time.Duration {
	var worst time.Duration
	for _, r := range spreads {
		if !strings.Contains(r.label, "caps on") {
			continue
		}
		if r.after < 0 {
			return time.Hour
		}
		worst = max(worst, r.after)
	}
	return worst
}

// gaps is what the misses in the goals table come from, and what would
// close them; it names mechanisms, not figures, so it holds for any run.
const gaps = `
### Where the goals are missed, and what would close the gap

- **p99 during a rollout.** On a 2-CPU machine the load generator, the
  instances and systemd share two cores: each new process's start (exec,
  runtime start-up, the crash-loop guard's own exec) and systemd's job
  handling take CPU from the instances serving, and the keep-alive clients
  of a draining instance all reconnect at once. The latency plots show the
  spikes at the instances' start-ups. More cores dilute it; a lower
  CPUWeight= for an instance while it warms up, and spreading the
  reconnections over the lame-duck window, would attack it directly.
- **Rollout overhead per instance.** What is left after the instances' own
  start-up is each old process's stop, the rollout scope that ties the
  spare to the reloader, the spare's stop, and the reloader's own start and
  D-Bus calls. Measured by hand on this test bed (.scratch, not committed;
  systemd 252 on the hybrid cgroup layout): a stop of the Go worker with
  no connections takes about 25 ms from SIGTERM to "Stopped", most of it
  systemd spawning the crash-loop guard's clean-stop record
  (ExecStopPost=: rollouts of 2 instances were about 50 ms shorter without
  it, 3 stops each), not the guard itself (3 ms an exec); the scope's
  start is 12 to 17 ms and systemd answers slowly for as long again after
  it. Reading an instance's state with a Get of each property used instead
  of GetAll (which computes the cgroup's accounting and over 200 other
  properties) cut a read from 1.7 to 0.4 ms and systemd's CPU from 0.57
  to 0.13 ms, and did not move the rollout's wall time measurably (5
  rounds of A B B A). It shrinks as the count grows, and is smaller with
  surge off; the daemon-reload is not part of it when nothing changed.
- **Fairness with new connections.** All instances wait on one shared
  accept queue. The Go worker takes connections in turn (` + "`activation.Fair`" + `:
  EPOLLEXCLUSIVE, re-armed after each accept); a worker whose runtime
  wakes every instance for each connection (Node's libuv) gets them in
  whatever order its instances wake, so a busy machine favours some.
  pm2's master deals connections round-robin, and
  ` + "`socket = \"reuseport\"`" + ` has the kernel hash them evenly: see the last
  section for what that costs when an instance is down or restarting.
- **Keep-alive load spreading again.** A connection stays with the instance
  that accepted it; the workers' caps (connection age, requests per
  connection) recycle them, and each reconnection lands by the rule above,
  so with few connections per instance a one-second window is rarely
  within 1.5. More connections, or lower caps, spread it sooner.
- **Cost of socket activation.** The activated process serves on a
  descriptor systemd opened instead of one it opened itself; the kernel
  path is the same, so a difference is noise unless it repeats across runs
  and orders.
`

func verdict(ok bool, detail string) string {
	if ok {
		return "met (" + detail + ")"
	}
	return "**missed** (" + detail + ")"
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// order lists the distinct keys in the order they first appear.
func order[T any](recs []T, key func(T) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		if k := key(r); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.HasPrefix(out[j], "pm2") && !strings.HasPrefix(out[i], "pm2") })
	return out
}

func pick(recs []record, sys, mode string) []record {
	var out []record
	for _, r := range recs {
		if r.system == sys && r.mode == mode {
			out = append(out, r)
		}
	}
	return out
}

func f(rs []record, v func(record) float64, format string) string {
	return fx(values(rs, v), format)
}

// values is v of each of xs.
func values[T any](xs []T, v func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = v(x)
	}
	return out
}

func fx(xs []float64, format string) string {
	lo, mid, hi := spread(xs)
	one := func(x float64) string {
		if math.IsInf(x, 1) {
			return "∞ (one got none)"
		}
		return fmt.Sprintf(format, x)
	}
	if len(xs) == 1 {
		return one(mid)
	}
	return one(lo) + " / **" + one(mid) + "** / " + one(hi)
}

func lat(rs []record, v func(record) time.Duration) string {
	return f(rs, func(r record) float64 { return float64(v(r)) / float64(time.Millisecond) }, "%.2f") + " ms"
}

func order2(rs []spreadRec) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rs {
		if !seen[r.label] {
			seen[r.label] = true
			out = append(out, r.label)
		}
	}
	return out
}

func secsOf(rs []spreadRec) string {
	if len(rs) == 0 {
		return "some time"
	}
	return rs[0].window.String()
}

// whichSocket is when to choose each socket mode; like gaps, it names
// mechanisms, not figures.
const whichSocket = `
**Which to choose.** ` + "`\"shared\"`" + ` with the fair accept is the default: no
connection ever waits for one given instance, so a restarting, failed or
stopped instance costs nothing but its own in-flight requests, a rollout
can start a spare first, and the instances take connections in turn.
` + "`\"reuseport\"`" + ` spreads new connections evenly (the steering program's
turns, or the kernel's hash), whatever the worker does, so it is still the choice for a worker that cannot register
its listener with EPOLLEXCLUSIVE (Node's libuv cannot) when even load
matters more than rollout latency. With it, ` + "`app-reloader steer`" + ` (an eBPF
program on the sockets, reloader/steer) deals new connections only to
the instances that serve: an instance is taken out before it stops and
put back once it is ready again, so no connection waits for a restarting
instance or is queued on a socket as it closes (the e2e test counts 0
failed through a rollout, a failed release and a scale-down). Where the
kernel or a container's filter refuses the program, the kernel's hash
decides: a connection hashed to a restarting instance waits for the new
process, and one still queued on a socket as it closes is reset (Linux
5.14's ` + "`net.ipv4.tcp_migrate_req = 1`" + ` moves those to the other instances'
sockets; a setting of the whole network namespace, left to the operator
and not measured here). Either way a rollout has no spare, and stopping
only the instance (` + "`systemctl stop app@N.service`" + `) is no way to take it out:
its socket starts it again; ` + "`app-reloader`" + ` stops it with its socket.
`
