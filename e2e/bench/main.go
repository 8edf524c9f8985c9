//go:build linux

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
	// nodeOnly runs the Node worker's socket setups beside pm2 alone.
	nodeOnly bool
	// headline runs make bench-quick: the headline ratios, short runs.
	headline bool
	// scalingOnly runs "How cost grows" alone and prints it.
	scalingOnly bool
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
	flag.BoolVar(&o.nodeOnly, "node-only", false, "run only the Node worker's socket setups beside pm2 and print their tables; writes nothing")
	flag.BoolVar(&o.headline, "headline", false, "make bench-quick: the headline ratios beside pm2 and bare net/http, each paired, in a few minutes; prints them, writes nothing")
	flag.BoolVar(&o.scalingOnly, "scaling-only", false, "run only \"How cost grows\" (2 to 64 instances) and print its table; writes nothing")
	flag.Parse()
	if o.headline {
		o.quick = true // short runs; -reps stays as given
	}
	if o.quick && !o.headline {
		o.reps = 1
	}
	if o.reps < 1 || o.instances < 1 || o.rateKA < 1 || o.rateNew < 1 || o.workers < 1 {
		fmt.Fprintln(os.Stderr, "bench: -reps, -instances, -rate-* and -workers must be at least 1")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Minute)
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

// bench is one run of the benchmarks: the machine, the load generator and
// the systems under test, shared by the sections.
type bench struct {
	ctx     context.Context
	o       options
	w       io.Writer
	veg     *e2e.Vegeta
	m       *e2e.Machine
	pm2Bin  string
	ours    string // our cluster's address
	configs struct{ goWorker, nodeWorker string }
	names   []string // the instances, "0" …
	systems []system
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
	b := &bench{ctx: ctx, o: o, w: w}
	m, err := b.setUp(filepath.Join(tmp, "bin"))
	if m != nil {
		defer m.Close()
	}
	if err != nil {
		return err
	}
	switch {
	case o.canaryOnly:
		cs, err := measureCanary(ctx, o, b.m, b.ours, w)
		if err != nil {
			return err
		}
		fmt.Fprint(w, renderCanary(cs))
		return nil
	case o.socketsOnly:
		sr, err := measureSockets(ctx, o, b.veg, b.m, goSocketSystems(o, b.m, b.url(), b.configs.goWorker, b.reload), b.names, nil, w)
		if err != nil {
			return err
		}
		fmt.Fprint(w, renderSockets(sr, b.names))
		return nil
	case o.scalingOnly:
		sc, err := b.scaling()
		if err != nil {
			return err
		}
		d := &doc{}
		scalingSection(d, results{o: o, scaling: sc})
		fmt.Fprint(w, d.String())
		return nil
	case o.headline:
		table, err := b.headline()
		if err != nil {
			return err
		}
		fmt.Fprint(w, table)
		fmt.Fprintf(w, "\n== bench-quick took %s\n", time.Since(start).Round(time.Second))
		return nil
	case o.nodeOnly:
		if err := b.startPM2(); err != nil {
			return err
		}
		sr, err := measureSockets(ctx, o, b.veg, b.m, nodeSocketSystems(o, b.m, b.url(), b.configs.goWorker, b.reload), b.names, b.systems[2:], w)
		if err != nil {
			return err
		}
		fmt.Fprint(w, renderSockets(sr, b.names))
		return nil
	}
	if err := b.startPM2(); err != nil {
		return err
	}
	res := results{o: o, instances: b.names}
	if res.recs, err = b.rollouts(); err != nil {
		return err
	}
	var beside headlineTable
	if res.sats, res.satNote, err = b.besidePM2(&beside, b.systems[:2], b.systems[2]); err != nil {
		return err
	}
	res.beside = beside.rows
	if res.spreads, err = b.spreads(); err != nil {
		return err
	}
	setups := append(goSocketSystems(o, b.m, b.url(), b.configs.goWorker, b.reload), nodeSocketSystems(o, b.m, b.url(), b.configs.goWorker, b.reload)...)
	if res.sockets, err = measureSockets(ctx, o, b.veg, b.m, setups, b.names, b.systems[2:], w); err != nil {
		return err
	}
	// Back to the default for what follows.
	if err := useSocketMode(b.m, b.configs.goWorker, o.instances)(ctx); err != nil {
		return fmt.Errorf("back to one shared socket: %w", err)
	}
	if res.acts, err = b.activationCost(); err != nil {
		return err
	}
	if res.ovs, err = b.overheads(); err != nil {
		return err
	}
	if res.scaling, err = b.scaling(); err != nil {
		return err
	}
	if res.canary, err = measureCanary(ctx, o, b.m, b.ours, w); err != nil {
		return err
	}
	versions, _ := b.sh("sh", "-c", "echo kernel $(uname -r); systemctl --version | head -1; echo node $(node --version)")
	res.machine = machineInfo(versions)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if res.plots, err = b.plots(res.recs); err != nil {
		return err
	}
	scalingPlot, err := plotScaling(ctx, o.out, res.scaling)
	if err != nil {
		return err
	}
	res.plots["scaling"] = scalingPlot
	res.took = time.Since(start)
	path := filepath.Join(o.out, "BENCHMARKS.md")
	if o.quick {
		path = filepath.Join(o.out, "BENCHMARKS.quick.md")
	}
	if err := os.WriteFile(path, []byte(render(res)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "== wrote %s in %s\n", path, time.Since(start).Round(time.Second))
	return nil
}

// setUp builds the commands into bin, installs vegeta (and pm2), boots a
// throwaway systemd and starts our cluster on it with the Go worker. The
// machine it returns, even with an error, is the caller's to close.
func (b *bench) setUp(bin string) (*e2e.Machine, error) {
	ctx, o, w := b.ctx, b.o, b.w
	fmt.Fprintln(w, "== building, installing vegeta and pm2")
	bin, err := e2e.Build(ctx, bin, "bench")
	if err != nil {
		return nil, err
	}
	if b.veg, err = e2e.InstallVegeta(ctx, o.cache); err != nil {
		return nil, err
	}
	if !o.socketsOnly && !o.canaryOnly && !o.scalingOnly || o.nodeOnly {
		if b.pm2Bin, err = e2e.InstallPM2(ctx, o.cache); err != nil {
			return nil, err
		}
	}
	if err := e2e.CleanStale(); err != nil {
		fmt.Fprintln(w, "clean up earlier runs:", err)
	}

	fmt.Fprintln(w, "== booting a throwaway systemd")
	if b.m, err = e2e.Boot(ctx); err != nil {
		return nil, err
	}
	m := b.m
	// The machine is torn down on Ctrl-C too.
	go func() {
		<-ctx.Done()
		m.Close()
	}()
	if err := m.Install(bin); err != nil {
		return m, err
	}
	if err := installBare(ctx, m, bin); err != nil {
		return m, err
	}
	b.ours = fmt.Sprintf("127.0.0.1:%d", portOurs)
	b.configs.goWorker = fmt.Sprintf("listen = [%q]\ninstances = %d\n", b.ours, o.instances)
	b.configs.nodeWorker = b.configs.goWorker + fmt.Sprintf("script = \"/usr/bin/node\"\nargs = [%q]\n[env]\nAPP_VERSION = \"node\"\n", worker.NodeJSPath)
	if err := m.WriteConfig(b.configs.goWorker); err != nil {
		return m, err
	}
	if _, err := b.sh("systemctl", "daemon-reload"); err != nil {
		return m, err
	}
	if _, err := b.sh("systemctl", "enable", "--now", units.Socket, units.Target); err != nil {
		return m, err
	}
	if err := m.WaitActive(ctx, 30*time.Second, e2e.Instances(o.instances)...); err != nil {
		return m, err
	}
	b.names = make([]string, o.instances)
	for i := range b.names {
		b.names[i] = fmt.Sprint(i)
	}
	return m, nil
}

// sh runs a command in the machine; its output is in the error.
func (b *bench) sh(args ...string) (string, error) {
	out, err := b.m.Run(b.ctx, args...)
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, strings.TrimSpace(out))
	}
	return out, nil
}

// url is our cluster's.
func (b *bench) url() string { return "http://" + b.ours + "/" }

// reload rolls our cluster.
func (b *bench) reload(context.Context) error {
	_, err := b.sh("app-reloader", "reload")
	return err
}

// useConfig is a setup that applies cfg to our cluster.
func (b *bench) useConfig(cfg string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := b.m.WriteConfig(cfg); err != nil {
			return err
		}
		return b.reload(ctx)
	}
}

// startPM2 starts pm2 cluster mode beside our cluster, and names the
// systems under test.
func (b *bench) startPM2() error {
	pm2 := &e2e.PM2{M: b.m, Bin: b.pm2Bin}
	if err := pm2.Start(b.ctx, e2e.PM2App{Name: "bench", Script: worker.NodeJSPath, Instances: b.o.instances, Port: portPM2,
		Env: map[string]string{"APP_VERSION": "pm2"}, ListenTimeout: 50000, KillTimeout: 5000}); err != nil {
		return err
	}
	b.systems = []system{
		{name: "app, Go worker", url: "http://" + b.ours + "/", setup: b.useConfig(b.configs.goWorker), roll: b.reload, events: b.m.Events},
		{name: "app, Node worker", url: "http://" + b.ours + "/", setup: b.useConfig(b.configs.nodeWorker), roll: b.reload, events: b.m.Events},
		{name: "pm2, Node worker", url: fmt.Sprintf("http://127.0.0.1:%d/", portPM2), setup: func(context.Context) error { return nil },
			roll: func(ctx context.Context) error {
				out, err := pm2.Run(ctx, "reload", "bench")
				if err != nil {
					return fmt.Errorf("pm2 reload: %w: %s", err, out)
				}
				return nil
			}},
	}
	return nil
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
