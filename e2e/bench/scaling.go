//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"example.com/app/e2e"
)

// scalingCounts are the cluster sizes of "How cost grows".
var scalingCounts = []int{2, 8, 32, 64}

// scalingRec is one rollout of n instances, no load, with what it cost.
type scalingRec struct {
	overheadRec
	instanceRSS int64 // mean resident memory of an instance's main process, bytes
}

// scaling times a rollout (surge on, no canary hold, no load) of 2, 8, 32
// and 64 instances: its wall time against the instances' own start-ups,
// app-reloader's CPU time and peak memory, and each instance's memory.
func (b *bench) scaling() ([]scalingRec, error) {
	fmt.Fprintln(b.w, "== how cost grows: 2, 8, 32 and 64 instances, no load")
	var out []scalingRec
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, n := range scalingCounts {
			ov, err := measureOverhead(b.ctx, b.m, fmt.Sprintf("listen = [%q]\ninstances = %d\ncanary_uptime = \"0s\"\n", b.ours, n), n, rep)
			if err != nil {
				return nil, fmt.Errorf("%d instances: %w", n, err)
			}
			ov.surge = true
			rss, err := instancesRSS(b.ctx, b.m, n)
			if err != nil {
				return nil, fmt.Errorf("%d instances: %w", n, err)
			}
			r := scalingRec{overheadRec: ov, instanceRSS: rss}
			fmt.Fprintf(b.w, "[rep %d] %2d instances: rollout %s (own start-ups %s, %s per instance beyond them); app-reloader %s CPU, %.1f MiB peak; %.1f MiB per instance\n",
				rep, n, secs(r.total), secs(r.startups), ms(r.perInstance()), ms(r.reloader.CPU), mib(r.reloader.MaxRSS), mib(r.instanceRSS))
			out = append(out, r)
		}
	}
	// Back to the bench's own size.
	if err := b.m.WriteConfig(b.configs.goWorker); err != nil {
		return out, err
	}
	return out, b.reload(b.ctx)
}

// instancesRSS is the mean resident memory (VmRSS) of the n instances'
// main processes.
func instancesRSS(ctx context.Context, m *e2e.Machine, n int) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("instances' memory: no instance")
	}
	out, err := m.Run(ctx, append([]string{"sh", "-c", `for u in "$@"; do p=$(systemctl show -p MainPID --value "$u"); grep '^VmRSS:' /proc/$p/status; done`, "sh"}, e2e.Instances(n)...)...)
	if err != nil {
		return 0, fmt.Errorf("instances' memory: %w: %s", err, out)
	}
	var sum int64
	lines := strings.Fields(strings.ReplaceAll(out, "VmRSS:", ""))
	k := 0
	for i := 0; i+1 < len(lines); i += 2 {
		v, err := strconv.ParseInt(lines[i], 10, 64)
		if err != nil || lines[i+1] != "kB" {
			return 0, fmt.Errorf("instances' memory: cannot read %q", out)
		}
		sum += v * 1024
		k++
	}
	if k != n {
		return 0, fmt.Errorf("instances' memory: %d of %d instances read: %s", k, n, out)
	}
	return sum / int64(n), nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// scalingSection is "How cost grows", with its plot.
func scalingSection(d *doc, r results) {
	if len(r.scaling) == 0 {
		return
	}
	d.p("## How cost grows with the instance count\n\n")
	d.p("No load; one rollout of %s instances in turn (surge on: the spare, then every instance one at a time, then the spare stopped; no canary hold), every repetition. Per instance = (rollout − the instances' own start-ups) ÷ instances, as above; app-reloader's CPU time and peak memory are its own and its children's (wait4's accounting); an instance's memory is its main process's resident set (VmRSS), the mean over the instances.\n\n", joinInts(scalingCounts))
	d.p("| instances | rollout | sum of own start-ups | overhead per instance | app-reloader CPU | app-reloader CPU per instance | app-reloader peak memory | memory per instance |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, n := range scalingCounts {
		var rs []scalingRec
		for _, x := range r.scaling {
			if x.n == n {
				rs = append(rs, x)
			}
		}
		if len(rs) == 0 {
			continue
		}
		col := func(v func(scalingRec) float64, format string) string {
			var xs []float64
			for _, x := range rs {
				xs = append(xs, v(x))
			}
			return fx(xs, format)
		}
		d.p("| %d | %s | %s | %s | %s | %s | %s | %s |\n", n,
			col(func(x scalingRec) float64 { return x.total.Seconds() }, "%.2f s"),
			col(func(x scalingRec) float64 { return x.startups.Seconds() }, "%.2f s"),
			col(func(x scalingRec) float64 { return float64(x.perInstance()) / float64(time.Millisecond) }, "%.0f ms"),
			col(func(x scalingRec) float64 { return float64(x.reloader.CPU) / float64(time.Millisecond) }, "%.0f ms"),
			col(func(x scalingRec) float64 { return float64(x.reloader.CPU) / float64(time.Millisecond) / float64(n) }, "%.1f ms"),
			col(func(x scalingRec) float64 { return mib(x.reloader.MaxRSS) }, "%.1f MiB"),
			col(func(x scalingRec) float64 { return mib(x.instanceRSS) }, "%.1f MiB"))
	}
	d.p("\n")
	if p, ok := r.plots["scaling"]; ok {
		d.p("![rollout time and app-reloader CPU by instance count](%s)\n\n", p)
	}
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// plotScaling draws the rollout's wall time and app-reloader's CPU time
// against the instance count, every repetition a point.
func plotScaling(ctx context.Context, dir string, recs []scalingRec) (string, error) {
	data := filepath.Join(dir, "bench-scaling.dat")
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%d %.3f %.3f %.3f\n", r.n, r.total.Seconds(), r.reloader.CPU.Seconds(), r.startups.Seconds())
	}
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	defer os.Remove(data)
	name := "bench-scaling.png"
	script := fmt.Sprintf(`set terminal pngcairo size 900,450
set output %q
set xlabel "instances"
set ylabel "seconds"
set key left top
set grid
plot %q using 1:2 with points pt 7 title "rollout (wall)", %q using 1:4 with points pt 5 title "instances' own start-ups", %q using 1:3 with points pt 9 title "app-reloader CPU"
`, filepath.Join(dir, name), data, data, data)
	if err := gnuplot(ctx, script); err != nil {
		return "", err
	}
	return name, nil
}

// scalingGrowth is the median overhead per instance at the largest count ÷
// at the smallest; false without both.
func scalingGrowth(recs []scalingRec) (float64, bool) {
	median := func(n int) (float64, bool) {
		var xs []float64
		for _, r := range recs {
			if r.n == n {
				xs = append(xs, float64(r.perInstance()))
			}
		}
		if len(xs) == 0 {
			return 0, false
		}
		_, mid, _ := spread(xs)
		return mid, true
	}
	lo, ok1 := median(scalingCounts[0])
	hi, ok2 := median(scalingCounts[len(scalingCounts)-1])
	if !ok1 || !ok2 || lo <= 0 {
		return 0, false
	}
	return hi / lo, true
}
