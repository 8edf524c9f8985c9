// Command bench measures the cluster against pm2 cluster mode on a
// throwaway systemd, in one session with the runs interleaved, and writes
// docs/BENCHMARKS.md. Run it as root through `make bench`.
//
// Load comes from vegeta (installed from the Go module proxy), to loopback
// only, bounded in time: a closed loop for throughput, and a fixed rate for
// latency before and during a rollout, so that a stall shows as latency
// rather than as fewer requests sent (coordinated omission).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"example.com/app/e2e"
	"example.com/app/units"
	"example.com/app/worker"
)

type options struct {
	out       string
	cache     string
	reps      int
	instances int
	rateKA    int
	rateNew   int
	workers   int
	quick     bool
	// socketsOnly runs the socket comparison alone and prints it.
	socketsOnly bool
	// canaryOnly runs the canary hold's cost alone and prints it.
	canaryOnly bool
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "docs", "where BENCHMARKS.md goes")
	flag.StringVar(&o.cache, "cache", "/var/cache/app-bench", "where vegeta and pm2 are installed")
	flag.IntVar(&o.reps, "reps", 3, "repetitions of every run (min/median/max)")
	flag.IntVar(&o.instances, "instances", 2, "instances under each manager")
	flag.IntVar(&o.rateKA, "rate-keepalive", 2000, "requests/s of the fixed-rate load over keep-alive connections")
	flag.IntVar(&o.rateNew, "rate-newconn", 500, "requests/s of the fixed-rate load with a new connection per request")
	flag.IntVar(&o.workers, "workers", 16, "concurrent clients of the closed-loop throughput runs")
	flag.BoolVar(&o.quick, "quick", false, "one short repetition, to try the harness; not for publishing")
	flag.BoolVar(&o.socketsOnly, "sockets-only", false, "run only the socket comparison and print its tables; writes nothing")
	flag.BoolVar(&o.canaryOnly, "canary-only", false, "run only the canary hold's cost and print its table; writes nothing")
	flag.Parse()
	if o.quick {
		o.reps = 1
	}
	if o.reps < 1 || o.instances < 1 || o.rateKA < 1 || o.rateNew < 1 || o.workers < 1 {
		fmt.Fprintln(os.Stderr, "bench: -reps, -instances, -rate-* and -workers must be at least 1")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const (
	portOurs = 18080
	portPM2  = 18081
	modeKA   = "keep-alive"
	modeNew  = "new connection per request"
)

// system is one manager and worker under test.
type system struct {
	name  string
	url   string
	setup func(ctx context.Context) error
	roll  func(ctx context.Context) error
	// events, if set, reads systemd's record of the instances' restarts.
	events func(ctx context.Context, since time.Time) ([]e2e.UnitEvent, error)
}

// record is one measured rollout under load, with the throughput run that
// preceded it.
type record struct {
	system, mode string
	rep          int
	throughput   float64 // closed loop, requests/s
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

func run(ctx context.Context, o options, w io.Writer) error {
	start := time.Now()
	if err := e2e.Prerequisites(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "app-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(w, "== building, installing vegeta and pm2")
	bin, err := e2e.Build(ctx, filepath.Join(tmp, "bin"), "bench")
	if err != nil {
		return err
	}
	veg, err := e2e.InstallVegeta(ctx, o.cache)
	if err != nil {
		return err
	}
	pm2Bin := ""
	if !o.socketsOnly && !o.canaryOnly {
		if pm2Bin, err = e2e.InstallPM2(ctx, o.cache); err != nil {
			return err
		}
	}
	if err := e2e.CleanStale(); err != nil {
		fmt.Fprintln(w, "clean up earlier runs:", err)
	}

	fmt.Fprintln(w, "== booting a throwaway systemd")
	m, err := e2e.Boot(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	// The machine is torn down on Ctrl-C too.
	go func() {
		<-ctx.Done()
		m.Close()
	}()
	sh := func(args ...string) (string, error) {
		out, err := m.Run(ctx, args...)
		if err != nil {
			return out, fmt.Errorf("%w: %s", err, strings.TrimSpace(out))
		}
		return out, nil
	}
	if err := m.Install(bin); err != nil {
		return err
	}
	ours := fmt.Sprintf("127.0.0.1:%d", portOurs)
	configGo := fmt.Sprintf("listen = [%q]\ninstances = %d\n", ours, o.instances)
	configNode := configGo + fmt.Sprintf("script = \"/usr/bin/node\"\nargs = [%q]\n[env]\nAPP_VERSION = \"node\"\n", worker.NodeJSPath)
	if err := m.WriteConfig(configGo); err != nil {
		return err
	}
	if _, err := sh("systemctl", "daemon-reload"); err != nil {
		return err
	}
	if _, err := sh("systemctl", "enable", "--now", units.Socket, units.Target); err != nil {
		return err
	}
	if err := m.WaitActive(ctx, 30*time.Second, e2e.Instances(o.instances)...); err != nil {
		return err
	}
	reload := func(ctx context.Context) error {
		_, err := sh("app-reloader", "reload")
		return err
	}
	names := make([]string, o.instances)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	if o.canaryOnly {
		cs, err := measureCanary(ctx, o, m, ours, w)
		if err != nil {
			return err
		}
		fmt.Fprint(w, renderCanary(cs))
		return nil
	}
	if o.socketsOnly {
		sr, err := measureSockets(ctx, o, veg, m, "http://"+ours+"/", configGo, reload, names, nil, w)
		if err != nil {
			return err
		}
		fmt.Fprint(w, renderSockets(sr, names))
		return nil
	}
	pm2 := &e2e.PM2{M: m, Bin: pm2Bin}
	if err := pm2.Start(ctx, e2e.PM2App{Name: "bench", Script: worker.NodeJSPath, Instances: o.instances, Port: portPM2,
		Env: map[string]string{"APP_VERSION": "pm2"}, ListenTimeout: 50000, KillTimeout: 5000}); err != nil {
		return err
	}

	useConfig := func(cfg string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			if err := m.WriteConfig(cfg); err != nil {
				return err
			}
			return reload(ctx)
		}
	}
	systems := []system{
		{name: "app, Go worker", url: "http://" + ours + "/", setup: useConfig(configGo), roll: reload, events: m.Events},
		{name: "app, Node worker", url: "http://" + ours + "/", setup: useConfig(configNode), roll: reload, events: m.Events},
		{name: "pm2, Node worker", url: fmt.Sprintf("http://127.0.0.1:%d/", portPM2), setup: func(context.Context) error { return nil },
			roll: func(ctx context.Context) error {
				out, err := pm2.Run(ctx, "reload", "bench")
				if err != nil {
					return fmt.Errorf("pm2 reload: %w: %s", err, out)
				}
				return nil
			}},
	}

	var recs []record
	for rep := 1; rep <= o.reps; rep++ {
		// Interleaved, and the order rotates so that no system always runs
		// first (or right after another) in a repetition.
		for k := range systems {
			sys := systems[(k+rep-1)%len(systems)]
			if err := sys.setup(ctx); err != nil {
				return fmt.Errorf("%s: %w", sys.name, err)
			}
			for _, mode := range []string{modeKA, modeNew} {
				r, err := measure(ctx, o, veg, sys, mode, rep)
				if err != nil {
					return fmt.Errorf("%s, %s, rep %d: %w", sys.name, mode, rep, err)
				}
				fmt.Fprintf(w, "[rep %d] %-17s %-27s %7.0f req/s | steady p99 %6s | rollout %6s, p99 %6s | failed %d of %d\n",
					rep, sys.name, mode, r.throughput, ms(r.steady.P99), secs(r.rollout), ms(r.during.P99), r.failed, r.sent)
				recs = append(recs, r)
			}
		}
	}
	fmt.Fprintln(w, "== keep-alive load spreading again after a rollout")
	var spreads []spreadRec
	noCap := configGo + "[env]\nAPP_MAX_CONN_AGE = \"0\"\nAPP_MAX_CONN_REQUESTS = \"0\"\n"
	spreadRuns := []struct {
		label string
		sys   system
	}{
		{"app, Go worker, connection caps on (default: 6 s, or 1000 requests)", system{url: systems[0].url, setup: useConfig(configGo), roll: reload}},
		{"app, Go worker, connection caps off", system{url: systems[0].url, setup: useConfig(noCap), roll: reload}},
		{"pm2, Node worker (no cap)", systems[2]},
	}
	window := 32 * time.Second
	if o.quick {
		window = 10 * time.Second
	}
	for rep := 1; rep <= o.reps; rep++ {
		for k := range spreadRuns {
			sr := spreadRuns[(k+rep-1)%len(spreadRuns)]
			if err := sr.sys.setup(ctx); err != nil {
				return err
			}
			r, err := measureSpread(ctx, o, veg, sr.sys, sr.label, names, rep, window)
			if err != nil {
				return fmt.Errorf("spread, %s: %w", sr.label, err)
			}
			fmt.Fprintf(w, "[rep %d] %-68s spread again after %s; max/min over the last 5 s %.2f\n", rep, sr.label, spreadAfter(r), r.final)
			spreads = append(spreads, r)
		}
	}

	sr, err := measureSockets(ctx, o, veg, m, "http://"+ours+"/", configGo, reload, names, systems[2:], w)
	if err != nil {
		return err
	}
	// Back to the default for what follows.
	if err := useSocketMode(m, configGo, o.instances)(ctx); err != nil {
		return fmt.Errorf("back to one shared socket: %w", err)
	}

	fmt.Fprintln(w, "== cost of socket activation: the same binary, activated or listening itself")
	if err := startActivationPair(ctx, m); err != nil {
		return err
	}
	var acts []actRec
	hows := []struct {
		name string
		port int
	}{{"listening itself", portPlain}, {"socket-activated", portActivated}}
	warm := o
	warm.quick = true
	for _, h := range hows { // warm both up; not kept
		if _, err := measureActivation(ctx, warm, veg, h.name, h.port, modeKA, 0); err != nil {
			return fmt.Errorf("activation cost, %s: %w", h.name, err)
		}
	}
	for rep := 1; rep <= o.reps; rep++ {
		for _, mode := range []string{modeKA, modeNew} {
			// A B B A (or B A A B): drift over the run cancels out.
			a, b := hows[rep%2], hows[1-rep%2]
			sum := map[string]actRec{}
			for _, h := range []struct {
				name string
				port int
			}{a, b, b, a} {
				r, err := measureActivation(ctx, o, veg, h.name, h.port, mode, rep)
				if err != nil {
					return fmt.Errorf("activation cost, %s: %w", h.name, err)
				}
				acc := sum[h.name]
				acc.how, acc.mode, acc.rep = r.how, r.mode, r.rep
				acc.rate += r.rate / 2
				acc.p50 += r.p50 / 2
				acc.p99 += r.p99 / 2
				acc.failed += r.failed
				sum[h.name] = acc
			}
			for _, h := range hows {
				r := sum[h.name]
				fmt.Fprintf(w, "[rep %d] %-17s %-27s %7.0f req/s | p50 %s p99 %s | failed %d\n", rep, h.name, mode, r.rate, ms(r.p50), ms(r.p99), r.failed)
				acts = append(acts, r)
			}
		}
	}

	fmt.Fprintln(w, "== rollout overhead by instance count, no load")
	var ovs []overheadRec
	counts := []int{2, 4, 8}
	for rep := 1; rep <= o.reps; rep++ {
		for k := range counts {
			n := counts[(k+rep-1)%len(counts)]
			for _, surge := range []bool{true, false} {
				// The orchestration alone: no canary hold (its cost is
				// measured below).
				r, err := measureOverhead(ctx, m, fmt.Sprintf("listen = [%q]\ninstances = %d\nsurge = %v\ncanary_uptime = \"0s\"\n", ours, n, surge), n, rep)
				if err != nil {
					return fmt.Errorf("overhead, %d instances: %w", n, err)
				}
				r.surge = surge
				fmt.Fprintf(w, "[rep %d] %d instances, surge %-5v: rollout %s, daemon-reload %s, own start-ups %s (%d units) → %s per instance\n",
					rep, n, surge, secs(r.total), secs(r.daemonReload), secs(r.startups), r.started, ms(r.perInstance()))
				ovs = append(ovs, r)
			}
		}
	}

	canary, err := measureCanary(ctx, o, m, ours, w)
	if err != nil {
		return err
	}

	versions, _ := sh("sh", "-c", "echo kernel $(uname -r); systemctl --version | head -1; echo node $(node --version)")
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	prefix := "bench-"
	if o.quick {
		prefix = "bench-quick-"
	}
	plots := map[string]string{}
	for _, r := range recs {
		if r.rep != 1 || r.mode != modeKA {
			continue
		}
		png, err := plotLatency(ctx, o.out, prefix+"latency-"+slug(r.system), r)
		if err != nil {
			return err
		}
		plots[r.system] = png
	}
	for _, mode := range []string{modeKA, modeNew} {
		png, err := plotShares(ctx, o.out, prefix+"shares-"+slug(mode), pickMode(recs, mode, 1), names)
		if err != nil {
			return err
		}
		plots[mode] = png
	}
	doc := render(o, recs, acts, ovs, spreads, names, plots, machineInfo(versions), time.Since(start)) + renderCanary(canary) + renderSockets(sr, names)
	path := filepath.Join(o.out, "BENCHMARKS.md")
	if o.quick {
		path = filepath.Join(o.out, "BENCHMARKS.quick.md")
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "== wrote %s in %s\n", path, time.Since(start).Round(time.Second))
	return nil
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

	tp, err := closedLoop(ctx, o, veg, sys.url, ka)
	if err != nil {
		return r, err
	}
	r.throughput = tp

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
// o.workers clients.
func closedLoop(ctx context.Context, o options, veg *e2e.Vegeta, url string, ka bool) (float64, error) {
	dur := 4 * time.Second
	if o.quick {
		dur = 2 * time.Second
	}
	a, err := veg.Attack(ctx, e2e.AttackOptions{URL: url, Workers: o.workers, Duration: dur, KeepAlive: ka, Connections: o.workers})
	if err != nil {
		return 0, err
	}
	hits, err := a.Wait(ctx)
	if err != nil {
		return 0, err
	}
	tp := e2e.Summarize(hits, time.Time{}, time.Time{})
	time.Sleep(time.Second) // let TIME_WAIT and the run queue settle
	return float64(tp.N-tp.Failed) / dur.Seconds(), nil
}

func machineInfo(versions string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%d CPUs (%s), host %s; inside the container: %s; Go %s; pm2 %s; vegeta %s",
		runtime.NumCPU(), cpuModel(), host, strings.Join(strings.Split(strings.TrimSpace(versions), "\n"), "; "),
		runtime.Version(), e2e.PM2Version, strings.TrimPrefix(e2e.VegetaVersion, "github.com/tsenart/vegeta/v12@"))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// spread is min / median / max of xs.
func spread(xs []float64) (lo, mid, hi float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0, 0, 0
	}
	mid = s[n/2]
	if n%2 == 0 {
		mid = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0], mid, s[n-1]
}

func slug(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer(",", "", " ", "-").Replace(s)
	return s
}

func pickMode(recs []record, mode string, rep int) []record {
	var out []record
	for _, r := range recs {
		if r.mode == mode && r.rep == rep {
			out = append(out, r)
		}
	}
	return out
}

func spreadAfter(r spreadRec) string {
	if r.after < 0 {
		return fmt.Sprintf("not within %s", r.window)
	}
	return r.after.String()
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
	refReusePort  = "SO_REUSEPORT socket per instance"
	sysDefaults   = "app defaults (shared socket, fair accept, surge)"
)

// measureSockets compares the socket modes (and accept disciplines) on the
// cluster already running on m, then leaves it in its default mode. others
// (pm2) get the goal measures too.
func measureSockets(ctx context.Context, o options, veg *e2e.Vegeta, m *e2e.Machine, url, configGo string, reload func(context.Context) error, names []string, others []system, w io.Writer) (socketRun, error) {
	run := socketRun{rateNew: o.rateNew, autogroup: autogroupSetting()}
	fmt.Fprintln(w, "== one shared socket (Go's accept, fair accept) against one SO_REUSEPORT socket per instance")
	socketSystems := []system{
		{name: sysSharedGo, url: url, setup: useSocketMode(m, configGo+"surge = false\n[env]\nAPP_ACCEPT = \"go\"\n", o.instances), roll: reload, events: m.Events},
		{name: sysSharedFair, url: url, setup: useSocketMode(m, configGo+"surge = false\n", o.instances), roll: reload, events: m.Events},
		{name: refReusePort, url: url, setup: useSocketMode(m, configGo+"socket = \"reuseport\"\n", o.instances), roll: reload, events: m.Events},
		{name: sysDefaults, url: url, setup: useSocketMode(m, configGo, o.instances), roll: reload, events: m.Events},
	}
	socketSystems = append(socketSystems, others...)
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
				tp, err := closedLoop(ctx, o, veg, sys.url, false)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "[rep %d] %-48s autogroup off: %s %6.0f req/s\n", rep, sys.name, modeNew, tp)
				run.noAG = append(run.noAG, record{system: sys.name, mode: modeNew, rep: rep, throughput: tp})
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
			case refReusePort:
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
	for rep := 1; rep <= o.reps; rep++ {
		for _, off := range []bool{false, true} {
			abba := func() error {
				for _, sys := range []system{defaults, perInstance, perInstance, defaults} {
					if err := sys.setup(ctx); err != nil {
						return err
					}
					tp, err := closedLoop(ctx, o, veg, sys.url, false)
					if err != nil {
						return fmt.Errorf("%s: %w", sys.name, err)
					}
					fmt.Fprintf(w, "[rep %d] A B B A, autogroup off %-5v %-48s %6.0f req/s\n", rep, off, sys.name, tp)
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
