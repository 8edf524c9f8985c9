//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"example.com/app/e2e"
	"example.com/app/reloader"
	"example.com/app/units"
	"example.com/app/worker"
)

// useSocketMode writes cfg (which sets `socket`) and applies it the way
// app-reloader says a change of socket mode is applied: the cluster
// restarts with its sockets.
func useSocketMode(m *e2e.Machine, cfg string, n int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := m.WriteConfig(cfg); err != nil {
			return err
		}
		if out, err := m.Run(ctx, "sh", "-c", reloader.ApplyListenChange(units.App)); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return m.WaitActive(ctx, 30*time.Second, e2e.Instances(n)...)
	}
}

// downRec is a fixed-rate load with one instance stopped for a while.
type downRec struct {
	label    string
	stopped  string // the unit stopped
	rep      int
	failed   int
	sent     int
	down     e2e.Stats // requests sent while the instance was stopped
	downFor  time.Duration
	shareOne int // requests the stopped instance served meanwhile
}

// measureDown stops one unit (an instance, or its socket) under
// new-connection load, waits, and starts the instance again.
func measureDown(ctx context.Context, o options, veg *e2e.Vegeta, m *e2e.Machine, label, url, unit string, rep int) (downRec, error) {
	r := downRec{label: label, stopped: unit, rep: rep, downFor: 5 * time.Second}
	lead, total := 2*time.Second, 12*time.Second
	a, err := veg.Attack(ctx, e2e.AttackOptions{URL: url, Rate: o.rateNew, Duration: total})
	if err != nil {
		return r, err
	}
	time.Sleep(lead)
	t0 := time.Now()
	if out, err := m.Run(ctx, "systemctl", "stop", unit); err != nil {
		return r, fmt.Errorf("%w: %s", err, out)
	}
	time.Sleep(r.downFor)
	t1 := time.Now()
	out, serr := m.Run(ctx, "systemctl", "start", "app@1.service")
	hits, err := a.Wait(ctx)
	if err != nil {
		return r, err
	}
	if serr != nil {
		return r, fmt.Errorf("%w: %s", serr, out)
	}
	all := e2e.Summarize(hits, time.Time{}, time.Time{})
	r.failed, r.sent = all.Failed, all.N
	r.down = e2e.Summarize(hits, t0, t1)
	r.shareOne = e2e.Shares(hits, t0.Add(time.Second), t1)["1"]
	time.Sleep(time.Second)
	return r, nil
}

// socketRun is what measureSockets measured.
type socketRun struct {
	rateNew int
	recs    []record
	downs   []downRec
	b2bs    []b2bRec
	spreads []respreadRec
	// The same measures with the kernel's autogroup off (autogroup.go).
	noAG      []record
	b2bsNoAG  []b2bRec
	autogroup string // the machine's setting
	pairs     []tpPair
}

// Names of the socket setups; refReusePort is what throughput is paired
// against.
const (
	sysSharedGo   = "shared socket, Go's accept"
	sysSharedFair = "shared socket, fair accept"
	refReusePort  = "SO_REUSEPORT socket per instance, steered"
	sysDefaults   = "app defaults (shared socket, fair accept, surge)"
)

// goSocketSystems are the Go worker's socket setups: Go's accept and the
// fair accept on the shared socket, SO_REUSEPORT sockets, the defaults.
func goSocketSystems(o options, m *e2e.Machine, url, configGo string, reload func(context.Context) error) []system {
	return []system{
		{name: sysSharedGo, url: url, setup: useSocketMode(m, configGo+"surge = false\n[env]\nAPP_ACCEPT = \"go\"\n", o.instances), roll: reload, events: m.Events},
		{name: sysSharedFair, url: url, setup: useSocketMode(m, configGo+"surge = false\n", o.instances), roll: reload, events: m.Events},
		{name: refReusePort, url: url, setup: useSocketMode(m, configGo+"socket = \"reuseport\"\n", o.instances), roll: reload, events: m.Events},
		{name: sysDefaults, url: url, setup: useSocketMode(m, configGo, o.instances), roll: reload, events: m.Events},
	}
}

// Names of the Node worker's setups (the reference worker in Node.js, on
// the app-cluster helper); sysNodeDefaults is what the Node goals are for.
const (
	sysNodeDefaults = "app, Node worker (app-cluster: turns, caps)"
	sysNodeGreedy   = "app, Node worker, Node's own accept"
	sysNodeReuse    = "app, Node worker, SO_REUSEPORT socket per instance, steered"
)

// nodeSocketSystems are the Node worker's setups. configBase is the
// cluster's listen and instances; the Node worker's script and env follow.
func nodeSocketSystems(o options, m *e2e.Machine, url, configBase string, reload func(context.Context) error) []system {
	node := func(settings, env string) string {
		return configBase + settings + fmt.Sprintf("script = \"/usr/bin/node\"\nargs = [%q]\n[env]\nAPP_VERSION = \"node\"\n", worker.NodeJSPath) + env
	}
	return []system{
		{name: sysNodeDefaults, url: url, setup: useSocketMode(m, node("", ""), o.instances), roll: reload, events: m.Events},
		{name: sysNodeGreedy, url: url, setup: useSocketMode(m, node("", "APP_ACCEPT = \"node\"\n"), o.instances), roll: reload, events: m.Events},
		{name: sysNodeReuse, url: url, setup: useSocketMode(m, node("socket = \"reuseport\"\n", ""), o.instances), roll: reload, events: m.Events},
	}
}

// measureSockets compares the socket setups (the socket modes, the accept
// disciplines, the workers) on the cluster already running on m, then
// leaves it in the last one's mode; others (pm2) get the same measures.
func measureSockets(ctx context.Context, o options, veg *e2e.Vegeta, m *e2e.Machine, setups []system, names []string, others []system, w io.Writer) (socketRun, error) {
	run := socketRun{rateNew: o.rateNew, autogroup: autogroupSetting()}
	fmt.Fprintln(w, "== one shared socket (Go's accept, fair accept) against one SO_REUSEPORT socket per instance, and the Node worker's setups")
	socketSystems := append(append([]system(nil), setups...), others...)
	for rep := 1; rep <= o.reps; rep++ {
		for k := range socketSystems {
			sys := socketSystems[(k+rep-1)%len(socketSystems)]
			if err := sys.setup(ctx); err != nil {
				return run, err
			}
			for _, mode := range []string{modeNew, modeKA} {
				r, err := measure(ctx, o, veg, sys, mode, rep)
				if err != nil {
					return run, fmt.Errorf("%s, %s: %w", sys.name, mode, err)
				}
				r.hits = nil
				fmt.Fprintf(w, "[rep %d] %-48s %-27s %6.0f req/s | fairness %.2f | steady p99 %s | rollout p99 %s | failed %d of %d\n",
					rep, sys.name, mode, r.throughput, e2e.Imbalance(r.shareBefore, names), ms(r.steady.P99), ms(r.during.P99), r.failed, r.sent)
				run.recs = append(run.recs, r)
			}
			b2b := []system{sys}
			if sys.name == sysDefaults {
				// What the same window shows with no rollout, and with
				// CPU work that no scheduling priority keeps from the
				// instances: the floor of this machine.
				b2b = append(b2b, references(sys)...)
			}
			backToBackAll := func(note string, into *[]b2bRec) error {
				for _, sys := range b2b {
					b, err := measureBackToBack(ctx, o, veg, sys, rep)
					if err != nil {
						return fmt.Errorf("%s, back-to-back rollouts: %w", sys.name, err)
					}
					fmt.Fprintf(w, "[rep %d] %-48s %s%d rollouts back to back in %s: p99 %s → %s (%.2f×), failed %d of %d\n",
						rep, sys.name, note, b.rollouts, secs(b.took), ms(b.steady.P99), ms(b.during.P99), b.ratio(), b.failed, b.sent)
					*into = append(*into, b)
				}
				return nil
			}
			if err := backToBackAll("", &run.b2bs); err != nil {
				return run, err
			}
			// Throughput and the back-to-back rollouts again, with the
			// kernel's autogroup off: see autogroup.go.
			if err := withoutAutogroup(func() error {
				tp, cpu, err := closedLoop(ctx, o, veg, sys.url, false)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "[rep %d] %-48s autogroup off: %s %6.0f req/s (client %2.0f%% CPU)\n", rep, sys.name, modeNew, tp, 100*cpu)
				run.noAG = append(run.noAG, record{system: sys.name, mode: modeNew, rep: rep, throughput: tp, clientCPU: cpu})
				return backToBackAll("autogroup off: ", &run.b2bsNoAG)
			}); err != nil {
				return run, fmt.Errorf("%s%s: %w", sys.name, agOff, err)
			}
			sp, err := measureRespread(ctx, sys, names, rep)
			if err != nil {
				return run, fmt.Errorf("%s, keep-alive re-spread: %w", sys.name, err)
			}
			after := "never"
			if sp.after >= 0 {
				after = secs(sp.after)
			}
			fmt.Fprintf(w, "[rep %d] %-48s keep-alive even again after %s; last 5 s %.2f; failed %d of %d\n", rep, sys.name, after, sp.final, sp.failed, sp.sent)
			run.spreads = append(run.spreads, sp)

			var stops []string
			switch sys.name {
			case sysSharedGo, sysSharedFair:
				stops = []string{"app@1.service"}
			case refReusePort, sysNodeReuse:
				// Stopping the instance alone leaves its socket queueing
				// a share of the connections (and triggering it again);
				// stopping its socket takes both out.
				stops = []string{"app@1.service", "app@1.socket"}
			}
			for _, unit := range stops {
				d, err := measureDown(ctx, o, veg, m, sys.name, sys.url, unit, rep)
				if err != nil {
					return run, fmt.Errorf("%s, %s down: %w", sys.name, unit, err)
				}
				fmt.Fprintf(w, "[rep %d] %-48s %s stopped for %s: failed %d of %d, p99 meanwhile %s, max %s\n",
					rep, sys.name, unit, d.downFor, d.failed, d.sent, ms(d.down.P99), ms(d.down.Max))
				run.downs = append(run.downs, d)
			}
		}
	}
	// The throughput goal, measured tightly: the defaults against
	// SO_REUSEPORT back to back in the order A B B A (so that drift
	// cancels), each right after its mode switch, with autogroup as the
	// machine has it and off. The loop above pairs runs minutes apart.
	var defaults, perInstance system
	for _, sys := range socketSystems {
		switch sys.name {
		case sysDefaults:
			defaults = sys
		case refReusePort:
			perInstance = sys
		}
	}
	for rep := 1; rep <= o.reps && defaults.setup != nil && perInstance.setup != nil; rep++ {
		for _, off := range []bool{false, true} {
			abba := func() error {
				for _, sys := range []system{defaults, perInstance, perInstance, defaults} {
					if err := sys.setup(ctx); err != nil {
						return err
					}
					tp, cpu, err := closedLoop(ctx, o, veg, sys.url, false)
					if err != nil {
						return fmt.Errorf("%s: %w", sys.name, err)
					}
					fmt.Fprintf(w, "[rep %d] A B B A, autogroup off %-5v %-48s %6.0f req/s (client %2.0f%% CPU)\n", rep, off, sys.name, tp, 100*cpu)
					run.pairs = append(run.pairs, tpPair{system: sys.name, rep: rep, agOff: off, throughput: tp})
				}
				return nil
			}
			var err error
			if off {
				err = withoutAutogroup(abba)
			} else {
				err = abba()
			}
			if err != nil {
				return run, fmt.Errorf("throughput pairs: %w", err)
			}
		}
	}
	return run, nil
}

// tpPair is one closed-loop throughput run of the A B B A pairs.
type tpPair struct {
	system     string
	rep        int
	agOff      bool
	throughput float64
}

// pairRatios is, per repetition, the mean throughput of sys ÷ that of
// reference over its A B B A runs with autogroup off or not.
func pairRatios(pairs []tpPair, sys, reference string, agOff bool) []float64 {
	sum := map[string]map[int]float64{sys: {}, reference: {}}
	var reps []int
	for _, p := range pairs {
		if p.agOff != agOff || sum[p.system] == nil {
			continue
		}
		if _, seen := sum[sys][p.rep]; !seen && p.system == sys {
			reps = append(reps, p.rep)
		}
		sum[p.system][p.rep] += p.throughput
	}
	var out []float64
	for _, rep := range reps {
		if ref := sum[reference][rep]; ref > 0 {
			out = append(out, sum[sys][rep]/ref) // two runs each: the means' ratio
		}
	}
	return out
}

// renderSockets is the comparison of one shared socket with one
// SO_REUSEPORT socket per instance.
func renderSockets(sr socketRun, instances []string) string {
	recs, downs := sr.recs, sr.downs
	if len(recs) == 0 {
		return ""
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("\n## One shared socket, or one SO_REUSEPORT socket per instance\n\n")
	p("By default the instances share one listening socket (`socket = \"shared\"`: `app.socket`, one accept queue for all), and the reference worker takes connections from it in turn with the other instances (`-accept fair`, the default: `activation.Fair`, an EPOLLEXCLUSIVE registration re-armed after each accept, so that the kernel wakes the instance that has waited longest). With Go's own accept (`APP_ACCEPT=go`) every instance's poller is woken for each connection and whichever runs first takes it. With `socket = \"reuseport\"` each instance has its own socket on the same address (`app@N.socket`, `ReusePort=yes`), and the kernel hashes each new connection to one of them. Same Go worker, %d instances, rolled by `app-reloader reload` one at a time with no spare (`surge = false`; with `\"reuseport\"` a rollout never uses one); the last rows are the defaults as shipped (shared socket, fair accept, a spare during rollouts) and pm2 cluster mode with the Node worker, for the four figures below. Throughput is the closed loop of the rollout runs (16 clients, 4 s); the mode is switched between runs the way `app-reloader` says to: `%s`.\n\n", len(instances), reloader.ApplyListenChange(units.App))
	p("| sockets | load | throughput (req/s) | fairness max ÷ min, before | after the rollout | steady p99 | p99 during the rollout | failed / sent |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, sys := range order(recs, func(r record) string { return r.system }) {
		for _, mode := range []string{modeNew, modeKA} {
			rs := pick(recs, sys, mode)
			if len(rs) == 0 {
				continue
			}
			failed, sent := failedOf(rs)
			p("| %s | %s | %s | %s | %s | %s | %s | %d / %d |\n", sys, mode,
				f(rs, func(r record) float64 { return r.throughput }, "%.0f"),
				f(rs, func(r record) float64 { return e2e.Imbalance(r.shareBefore, instances) }, "%.2f"),
				f(rs, func(r record) float64 { return e2e.Imbalance(r.shareAfter, instances) }, "%.2f"),
				lat(rs, func(r record) time.Duration { return r.steady.P99 }),
				lat(rs, func(r record) time.Duration { return r.during.P99 }), failed, sent)
		}
	}
	p("\nWith one instance taken out (`systemctl stop` of it, or of its socket) for 5 s under new-connection load, then started again (`systemctl start app@1.service`):\n\n")
	p("| sockets | stopped | failed / sent | p99 while it was down | max while it was down | requests sent meanwhile that the stopped instance answered (they waited for it) |\n| --- | --- | --- | --- | --- | --- |\n")
	labels := map[string]bool{}
	for _, d := range downs {
		key := d.label + "|" + d.stopped
		if labels[key] {
			continue
		}
		labels[key] = true
		var ds []downRec
		for _, x := range downs {
			if x.label == d.label && x.stopped == d.stopped {
				ds = append(ds, x)
			}
		}
		g := func(v func(downRec) float64, format string) string {
			xs := make([]float64, len(ds))
			for i, x := range ds {
				xs[i] = v(x)
			}
			return fx(xs, format)
		}
		failed, sent := 0, 0
		for _, x := range ds {
			failed += x.failed
			sent += x.sent
		}
		p("| %s | `%s` | %d / %d | %s ms | %s ms | %s |\n", d.label, d.stopped, failed, sent,
			g(func(x downRec) float64 { return float64(x.down.P99) / float64(time.Millisecond) }, "%.1f"),
			g(func(x downRec) float64 { return float64(x.down.Max) / float64(time.Millisecond) }, "%.1f"),
			g(func(x downRec) float64 { return float64(x.shareOne) }, "%.0f"))
	}
	p("%s", renderGoals(sr, instances, refReusePort))
	p("%s", whichSocket)
	return b.String()
}
