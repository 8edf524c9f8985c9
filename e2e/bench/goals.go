//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"example.com/app/e2e"
)

// The four figures of "fair and spike-free", measured for every socket
// setup (and pm2) in the same run:
//   - new connections' shares, max ÷ min, steady (from measure);
//   - throughput with a new connection per request ÷ one SO_REUSEPORT
//     socket per instance, paired per repetition (from measure);
//   - p99 through back-to-back rollouts ÷ steady p99, and failures;
//   - how long after a rollout keep-alive load is even again.
const (
	backToBack   = 5    // rollouts in a row
	respreadGoal = 1.25 // max ÷ min of a one-second window
	kaConns      = 32   // keep-alive clients of the re-spread run
	kaPace       = 16 * time.Millisecond
	respreadWait = 15 * time.Second // watched after the rollout
)

// Reference "rollouts" for the back-to-back run, on the default setup.
const (
	refNothing = "reference: no rollout, nothing done"
	refBurn    = "reference: no rollout, an idle-priority CPU burn"
	refBurnFor = 120 * time.Millisecond // about one rollout of the defaults
)

// references are stand-ins for a rollout: waiting, and burning a CPU at
// SCHED_IDLE (chrt -i 0), the lowest priority Linux has, for as long as a
// rollout takes.
func references(sys system) []system {
	nothing := sys
	nothing.name = refNothing
	nothing.roll = func(ctx context.Context) error {
		select {
		case <-time.After(refBurnFor):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	burn := sys
	burn.name = refBurn
	burn.roll = func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, "chrt", "-i", "0", "timeout", fmt.Sprintf("%.3f", refBurnFor.Seconds()), "sh", "-c", "while :; do :; done")
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 124 { // timeout's own "timed out"
			return nil
		}
		if err == nil {
			return errors.New("the CPU burn ended before its timeout")
		}
		return fmt.Errorf("CPU burn: %w", err)
	}
	return []system{nothing, burn}
}

// b2bRec is a fixed-rate new-connection load through back-to-back rollouts.
type b2bRec struct {
	system         string
	rep, rollouts  int
	took           time.Duration
	steady, during e2e.Stats
	failed, sent   int
}

func (r b2bRec) ratio() float64 {
	if r.steady.P99 <= 0 {
		return 0
	}
	return float64(r.during.P99) / float64(r.steady.P99)
}

// measureBackToBack runs sys.roll backToBack times in a row under the
// fixed-rate new-connection load; steady is the load before the first.
func measureBackToBack(ctx context.Context, o options, veg *e2e.Vegeta, sys system, rep int) (b2bRec, error) {
	r := b2bRec{system: sys.name, rep: rep, rollouts: backToBack}
	// A rollout of app's takes at least canary_uptime (2 s), pm2's reload
	// a second or two: five fit with room.
	lead, total := 3*time.Second, 30*time.Second
	a, err := attackAfter(ctx, veg, e2e.AttackOptions{URL: sys.url, Rate: o.rateNew, Duration: total}, lead)
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	var rerr error
	for i := 0; i < backToBack && rerr == nil; i++ {
		if rerr = sys.roll(ctx); rerr != nil {
			rerr = fmt.Errorf("rollout %d of %d: %w", i+1, backToBack, rerr)
		}
	}
	t1 := time.Now()
	r.took = t1.Sub(t0)
	hits, err := a.Wait(ctx)
	if err != nil {
		return r, err
	}
	if rerr != nil {
		return r, rerr
	}
	if t1.After(a.Started.Add(total - time.Second)) {
		return r, errors.New("the rollouts outlasted the load; raise its duration")
	}
	r.steady = e2e.Summarize(hits, a.Started.Add(500*time.Millisecond), t0)
	r.during = e2e.Summarize(hits, t0, t1)
	all := e2e.Summarize(hits, time.Time{}, time.Time{})
	r.failed, r.sent = all.Failed, all.N
	time.Sleep(time.Second)
	return r, nil
}

// respreadRec is keep-alive load from kaConns paced clients through one
// rollout: how long until every later one-second window is even.
type respreadRec struct {
	system       string
	rep          int
	after        time.Duration // -1: not within the watch
	final        float64       // max ÷ min over the last 5 s
	failed, sent int
}

func measureRespread(ctx context.Context, sys system, instances []string, rep int) (respreadRec, error) {
	r := respreadRec{system: sys.name, rep: rep, after: -1}
	u, err := url.Parse(sys.url)
	if err != nil {
		return r, err
	}
	lead := 3 * time.Second
	l, err := e2e.StartLoad(e2e.LoadOptions{Addr: u.Host, KeepAlive: kaConns, Pace: kaPace,
		MaxRequests: 10_000_000, MaxDuration: lead + respreadWait + 30*time.Second})
	if err != nil {
		return r, err
	}
	select {
	case <-time.After(lead):
	case <-ctx.Done():
		l.Stop()
		return r, ctx.Err()
	}
	rerr := sys.roll(ctx)
	t1 := time.Now()
	select {
	case <-time.After(respreadWait):
	case <-ctx.Done():
	}
	res := l.Stop()
	if rerr != nil {
		return r, fmt.Errorf("rollout: %w", rerr)
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	r.failed, r.sent = res.Failed(), len(res.Samples)
	shares := func(from, to time.Time) map[string]int {
		return res.Window(from, to).By(func(s e2e.Sample) string {
			if s.Err != "" {
				return ""
			}
			return s.Instance
		})
	}
	r.after = evenAfter(t1, int(respreadWait/time.Second), respreadGoal, func(from, to time.Time) float64 {
		return e2e.Imbalance(shares(from, to), instances)
	})
	r.final = e2e.Imbalance(shares(t1.Add(respreadWait-5*time.Second), t1.Add(respreadWait)), instances)
	time.Sleep(time.Second)
	return r, nil
}

// b2bOf is the back-to-back runs of one setup.
func b2bOf(b2bs []b2bRec, system string) []b2bRec {
	var out []b2bRec
	for _, x := range b2bs {
		if x.system == system {
			out = append(out, x)
		}
	}
	return out
}

// b2bCells is the back-to-back columns of a row: ratio, steady → during
// p99, failed / sent; and the failures.
func b2bCells(bs []b2bRec) (string, int) {
	failed, sent := 0, 0
	for _, x := range bs {
		failed += x.failed
		sent += x.sent
	}
	return fmt.Sprintf("%s | %s → %s ms | %d / %d",
		fx(values(bs, b2bRec.ratio), "%.2f"),
		fx(values(bs, func(x b2bRec) float64 { return ms64(x.steady.P99) }), "%.2f"),
		fx(values(bs, func(x b2bRec) float64 { return ms64(x.during.P99) }), "%.2f"), failed, sent), failed
}

// renderGoals is the table of the four figures, and the goals.
func renderGoals(sr socketRun, instances []string, reference string) string {
	recs, b2bs, spreads, rateNew := sr.recs, sr.b2bs, sr.spreads, sr.rateNew
	if len(b2bs) == 0 {
		return ""
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("\n### Fair and spike-free: four figures side by side\n\n")
	p("Each setup above, and pm2, in the same run, %d instances:\n\n", len(instances))
	p("- **shares**: new connections' shares, max ÷ min, steady (the fixed-rate run);\n")
	p("- **throughput ÷ SO_REUSEPORT**: new connection per request, closed loop, paired with the per-instance-socket run of the same worker in the same repetition (pm2's with the Go worker's);\n")
	p("- **p99 through rollouts ÷ steady**: %d rollouts back to back under %d new connections/s (fixed rate), p99 over all of them ÷ p99 before the first; failures over the whole load;\n", backToBack, rateNew)
	p("- **keep-alive even again after**: %d keep-alive clients, one request each per %s (so each instance's share of requests is its share of connections), through one rollout: the time from its end until every later one-second window has max ÷ min ≤ %.2f (watched for %s).\n\n", kaConns, kaPace, respreadGoal, respreadWait)
	p("| setup | shares (≤ 1.05) | throughput ÷ SO_REUSEPORT (≥ 0.95) | p99 through %d rollouts ÷ steady (≤ 1.3) | steady p99 → through rollouts | failed / sent | keep-alive even again after (≤ 10 s) | keep-alive max ÷ min, last 5 s |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n", backToBack)
	var verdicts, nodeVerdicts []string
	into := &verdicts
	verdict := func(goal string, ok bool, got string) {
		v := "met"
		if !ok {
			v = "**missed**"
		}
		*into = append(*into, fmt.Sprintf("| %s | %s (worst repetition: %s) |\n", goal, v, got))
	}
	// The p99 goal for back-to-back runs bs of the defaults; suffix names
	// the setting they ran under.
	b2bVerdict := func(suffix string, bs []b2bRec, failed int) {
		if len(bs) == 0 {
			return
		}
		_, _, rt := spread(values(bs, b2bRec.ratio))
		verdict(fmt.Sprintf("p99 through %d rollouts ≤ 1.3 × steady, 0 failed%s", backToBack, suffix), rt <= 1.3 && failed == 0, fmt.Sprintf("%.2f×, %d failed", rt, failed))
	}
	// The same p99 against what the machine does to it with no rollout at
	// all, a CPU burn as long as one, in the same repetition.
	burnVerdict := func(suffix string, bs, all []b2bRec) {
		if vs := vsBurn(bs, b2bOf(all, refBurn)); len(vs) > 0 {
			_, _, w := spread(vs)
			verdict(fmt.Sprintf("p99 through %d rollouts ÷ steady ≤ 1.2 × the idle-priority burn's, same repetition%s", backToBack, suffix), w <= 1.2, fmt.Sprintf("%.2f×", w))
		}
	}
	// The reference rows of a table, with tail closing its extra columns.
	referenceRows := func(b2bs []b2bRec, tail string) {
		for _, ref := range []string{refNothing, refBurn} {
			if bs := b2bOf(b2bs, ref); len(bs) > 0 {
				cells, _ := b2bCells(bs)
				p("| *%s* (%d × %s, on the defaults) | | | %s%s |\n", ref, backToBack, refBurnFor, cells, tail)
			}
		}
	}
	for _, sys := range order(recs, func(r record) string { return r.system }) {
		rs := pick(recs, sys, modeNew)
		bs := b2bOf(b2bs, sys)
		var ss []respreadRec
		for _, x := range spreads {
			if x.system == sys {
				ss = append(ss, x)
			}
		}
		ratios := tpRatios(recs, sys, referenceFor(sys, reference))
		shares := values(rs, func(r record) float64 { return e2e.Imbalance(r.shareBefore, instances) })
		after := make([]string, len(ss))
		for i, x := range ss {
			after[i] = "never"
			if x.after >= 0 {
				after[i] = fmt.Sprintf("%.0f s", x.after.Seconds())
			}
		}
		cells, failed := b2bCells(bs)
		p("| %s | %s | %s | %s | %s | %s |\n", sys, fx(shares, "%.2f"), fx(ratios, "%.2f"), cells,
			strings.Join(after, ", "), fx(values(ss, func(x respreadRec) float64 { return x.final }), "%.2f"))
		respreadVerdict := func() {
			if len(ss) == 0 {
				return
			}
			ok := true
			for _, x := range ss {
				if x.after < 0 || x.after > 10*time.Second || x.failed > 0 {
					ok = false
				}
			}
			verdict("keep-alive even again (≤ 1.25) within 10 s of a rollout, 0 failed", ok, strings.Join(after, ", "))
		}
		if sys == sysNodeDefaults || sys == sysNodeReuse {
			// Node's goals: its runtime cannot take turns the way the Go
			// worker does, so the bar is pm2's evenness, not 1.05; for
			// the shared socket (the helper's turns) and for the steered
			// SO_REUSEPORT sockets, the setup README tells Node users to
			// choose.
			into = &nodeVerdicts
			*into = append(*into, fmt.Sprintf("| *%s* | |\n", sys))
			if len(rs) > 0 {
				_, _, sh := spread(shares)
				verdict("new connections' shares ≤ 1.25", sh <= 1.25, fmt.Sprintf("%.2f", sh))
			}
			b2bVerdict("", bs, failed)
			respreadVerdict()
			into = &verdicts
			continue
		}
		if sys != sysDefaults {
			continue
		}
		// Goals hold in the worst repetition.
		if len(rs) > 0 {
			_, _, sh := spread(shares)
			verdict("new connections' shares ≤ 1.05", sh <= 1.05, fmt.Sprintf("%.2f", sh))
		}
		for _, off := range []bool{false, true} {
			if abba := pairRatios(sr.pairs, sys, reference, off); len(abba) > 0 {
				tp, _, _ := spread(abba)
				goal := "throughput ≥ 0.95 × SO_REUSEPORT (A B B A pairs)"
				if off {
					goal += agOff
				}
				verdict(goal, tp >= 0.95, fmt.Sprintf("%.2f", tp))
			}
		}
		b2bVerdict("", bs, failed)
		burnVerdict("", bs, b2bs)
		respreadVerdict()
	}
	referenceRows(b2bs, " | |")
	if len(sr.noAG) > 0 {
		p("\nThe same setups with the kernel's autogroup off (`%s` = 0; on this machine it is %s), measured right after the runs above in each repetition (see \"Throughput\" below):\n\n", autogroupPath, sr.autogroup)
		p("| setup | throughput ÷ SO_REUSEPORT, autogroup off | as the machine is (from the table above) | p99 through %d rollouts ÷ steady, autogroup off | steady p99 → through rollouts | failed / sent |\n| --- | --- | --- | --- | --- | --- |\n", backToBack)
		for _, sys := range order(sr.noAG, func(r record) string { return r.system }) {
			off := tpRatios(sr.noAG, sys, referenceFor(sys, reference))
			bs := b2bOf(sr.b2bsNoAG, sys)
			cells, failed := b2bCells(bs)
			p("| %s | %s | %s | %s |\n", sys, fx(off, "%.2f"), fx(tpRatios(recs, sys, referenceFor(sys, reference)), "%.2f"), cells)
			if sys == sysDefaults {
				b2bVerdict(agOff, bs, failed)
				burnVerdict(agOff, bs, sr.b2bsNoAG)
			}
		}
		referenceRows(sr.b2bsNoAG, "")
	}
	if len(sr.pairs) > 0 {
		p("\nThroughput measured tightly, after the runs above: in each repetition the defaults and SO_REUSEPORT back to back in the order A B B A, each run right after its own mode switch (a fresh socket), the ratio being the mean of the two A runs ÷ the mean of the two B runs; once with autogroup as the machine has it (%s), once with it off. The table above pairs runs minutes apart, across which this machine drifts by more than the gap it measures.\n\n", sr.autogroup)
		p("| autogroup | %s (req/s) | %s (req/s) | ratio (≥ 0.95) |\n| --- | --- | --- | --- |\n", sysDefaults, reference)
		for _, off := range []bool{false, true} {
			var a, b []float64
			for _, x := range sr.pairs {
				if x.agOff != off {
					continue
				}
				switch x.system {
				case sysDefaults:
					a = append(a, x.throughput)
				case reference:
					b = append(b, x.throughput)
				}
			}
			label := "as the machine has it (" + sr.autogroup + ")"
			if off {
				label = "off"
			}
			p("| %s | %s | %s | %s |\n", label, fx(a, "%.0f"), fx(b, "%.0f"), fx(pairRatios(sr.pairs, sysDefaults, reference, off), "%.2f"))
		}
	}
	if len(verdicts) > 0 {
		p("\nGoals for the default setup (%s):\n\n| goal | result |\n| --- | --- |\n%s", sysDefaults, strings.Join(verdicts, ""))
	}
	if len(nodeVerdicts) > 0 {
		p("\nGoals for Node, each setup beside pm2's row above:\n\n| goal | result |\n| --- | --- |\n%s", strings.Join(nodeVerdicts, ""))
	}
	p("%s", goalGaps)
	return b.String()
}

// vsBurn is, for each repetition, the p99 ratio of bs ÷ the reference
// burn's ratio in that repetition (repetitions without a burn are left
// out).
func vsBurn(bs, burns []b2bRec) []float64 {
	ref := map[int]float64{}
	for _, x := range burns {
		if r := x.ratio(); r > 0 {
			ref[x.rep] = r
		}
	}
	var out []float64
	for _, x := range bs {
		if r, ok := ref[x.rep]; ok {
			out = append(out, x.ratio()/r)
		}
	}
	return out
}

// referenceFor is what sys's throughput is compared with: the Node
// worker's setups with the Node worker on SO_REUSEPORT sockets, the others
// with reference (the Go worker's).
func referenceFor(sys, reference string) string {
	if strings.HasPrefix(sys, "app, Node worker") {
		return sysNodeReuse
	}
	return reference
}

// tpRatios is sys's throughput with a new connection per request ÷
// reference's, paired by repetition.
func tpRatios(recs []record, sys, reference string) []float64 {
	ref := map[int]float64{}
	for _, r := range recs {
		if r.system == reference && r.mode == modeNew {
			ref[r.rep] = r.throughput
		}
	}
	var ratios []float64
	for _, r := range pick(recs, sys, modeNew) {
		if x := ref[r.rep]; x > 0 {
			ratios = append(ratios, r.throughput/x)
		}
	}
	return ratios
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// goalGaps says what stands between the defaults and the goals they miss;
// like gaps, it names mechanisms, not figures.
const goalGaps = `
**Throughput.** The SO_REUSEPORT runs use the same fair accept on their
own sockets, so the difference is not the accept code. What it is, found
by hand in a throwaway container (two workers, 16 clients, mode switches
interleaved within a minute, 3 repetitions; .scratch, not committed): the
kernel's autogroup scheduling. With it on, every session is a scheduling
group and the CPUs are shared between groups first; systemd starts each
instance in a session of its own, and the load generator, on the same two
CPUs, is a group too. Workers started in the load generator's session:
shared socket and SO_REUSEPORT within noise of each other. Load generator
in a session of its own: the shared socket about 0.8×. Autogroup off:
within noise again, and both faster. A connection on the shared socket is
handed to the instance that has waited longest, which may be the group
waiting its turn, where each SO_REUSEPORT instance works through its own
queue when it runs. The A B B A table is the bench's own measure of it.
Debian's kernel has autogroup on; an operator can turn it off
(kernel.sched_autogroup_enabled = 0 in /etc/sysctl.d/), but the package
does not change a setting of the whole machine, and without a load
generator on the same CPUs the groups have nothing to compete with (see
also "Steady p99 under saturating load").

**p99 through rollouts.** A rollout starts processes: systemd forks for
the crash-loop guard, the worker and the clean-stop record, and the new
worker's runtime starts up. On this machine (two virtual CPUs, with the load
generator on them too) any CPU work of that size shows in the p99 of
sub-millisecond requests, whatever its scheduling priority and with
autogroup on or off: compare the idle-priority burn reference, which
starts no process and touches no socket. So no priority or weight setting
can take it out here; what the design decides is whether a connection
waits for a given instance: with the shared socket none does, and with
the SO_REUSEPORT sockets none does either since the steering program
(reloader/steer) deals new connections out to the instances that serve
only (before it, connections hashed to a restarting instance waited for
it).
`

// attackAfter starts an attack and returns once it has run for lead (the
// steady window before whatever is measured).
func attackAfter(ctx context.Context, veg *e2e.Vegeta, o e2e.AttackOptions, lead time.Duration) (*e2e.Attack, error) {
	a, err := veg.Attack(ctx, o)
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(lead):
		return a, nil
	case <-ctx.Done():
		_, _ = a.Wait(context.Background()) // vegeta ends with ctx
		return nil, ctx.Err()
	}
}
