//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"example.com/app/e2e"
)

// plotLatency draws every request's latency over time through one rollout,
// with the rollout's bounds and each instance's restart marked.
func plotLatency(ctx context.Context, dir, name string, r record) (string, error) {
	data := filepath.Join(dir, name+".dat")
	f, err := os.Create(data)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriter(f)
	start := r.hits[0].At
	for _, h := range r.hits {
		lat := float64(h.Latency) / float64(time.Millisecond)
		if !h.OK() {
			lat = -1 // failed requests sit below the axis
		}
		fmt.Fprintf(w, "%.4f %.3f\n", h.At.Sub(start).Seconds(), lat)
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	f.Close()
	defer os.Remove(data)

	var marks strings.Builder
	sec := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	fmt.Fprintf(&marks, "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead lc rgb '#888888' dt 2\n", sec(r.t0), sec(r.t0))
	fmt.Fprintf(&marks, "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead lc rgb '#888888' dt 2\n", sec(r.t1), sec(r.t1))
	fmt.Fprintf(&marks, "set label 'rollout' at %.3f, graph 0.97 left tc rgb '#555555'\n", sec(r.t0))
	for i, m := range r.marks {
		fmt.Fprintf(&marks, "set arrow from %.3f, graph 0 to %.3f, graph 0.9 nohead lc rgb '#d62728'\n", sec(m.at), sec(m.at))
		fmt.Fprintf(&marks, "set label '%s' at %.3f, graph %.2f left font ',8' tc rgb '#d62728' noenhanced\n", m.label, sec(m.at), 0.85-0.05*float64(i%4))
	}
	png := name + ".png"
	script := fmt.Sprintf(`set terminal pngcairo size 1100,420 font ',10'
set output '%s'
set title '%s, %s: latency of every request through a rollout (fixed rate); failed requests as red x at the bottom' noenhanced
set xlabel 'seconds'
set ylabel 'latency (ms, log scale)'
set logscale y
set yrange [0.05:*]
set grid ytics
%s
plot '%[5]s' using 1:($2 > 0 ? $2 : 1/0) with dots lc rgb '#1f77b4' notitle, \
     '%[5]s' using 1:($2 < 0 ? 0.07 : 1/0) with points pt 2 ps 1.5 lc rgb '#d62728' notitle
`, filepath.Join(dir, png), r.system, r.mode, marks.String(), data)
	if err := gnuplot(ctx, script); err != nil {
		return "", err
	}
	return png, nil
}

func gnuplot(ctx context.Context, script string) error {
	f, err := os.CreateTemp("", "plot-*.gp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		return err
	}
	f.Close()
	if out, err := exec.CommandContext(ctx, "gnuplot", f.Name()).CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %w: %s", err, out)
	}
	return nil
}

// plotShares draws each instance's share of requests before and after a
// rollout, for every system.
func plotShares(ctx context.Context, dir, name string, recs []record, instances []string) (string, error) {
	data := filepath.Join(dir, name+".dat")
	var b strings.Builder
	for _, r := range recs {
		for _, when := range []struct {
			label  string
			shares map[string]int
		}{{"before", r.shareBefore}, {"after", r.shareAfter}} {
			total := 0
			for _, in := range instances {
				total += when.shares[in]
			}
			fmt.Fprintf(&b, "%q", r.system+", "+when.label)
			for _, in := range instances {
				pct := 0.0
				if total > 0 {
					pct = 100 * float64(when.shares[in]) / float64(total)
				}
				fmt.Fprintf(&b, " %.2f", pct)
			}
			b.WriteString("\n")
		}
	}
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	defer os.Remove(data)
	var cols []string
	for i, in := range instances {
		col := fmt.Sprintf("'%s' using %d", data, i+2)
		if i == 0 {
			col += ":xtic(1)"
		}
		cols = append(cols, col+fmt.Sprintf(" title 'instance %s'", in))
	}
	png := name + ".png"
	script := fmt.Sprintf(`set terminal pngcairo size 1100,420 font ',10'
set output '%s'
set title 'Share of requests by instance, keep-alive, before and after a rollout (even = %.0f%%)' noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel '%% of requests'
set yrange [0:100]
set xtics rotate by -20 font ',8' noenhanced
set grid ytics
plot %s
`, filepath.Join(dir, png), 100/float64(len(instances)), strings.Join(cols, ", "))
	if err := gnuplot(ctx, script); err != nil {
		return "", err
	}
	return png, nil
}

type mark struct {
	at    time.Time
	label string
}

// restartMarks turns systemd's events into one mark per instance start.
func restartMarks(evs []e2e.UnitEvent) []mark {
	var out []mark
	for _, e := range evs {
		if e.Verb == "Started" {
			out = append(out, mark{at: e.At, label: strings.TrimSuffix(e.Unit, ".service") + " ready"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// plots draws the latency of repetition 1's keep-alive rollouts and the
// instances' shares, into the output directory; it returns them by name.
func (b *bench) plots(recs []record) (map[string]string, error) {
	prefix := "bench-"
	if b.o.quick {
		prefix = "bench-quick-"
	}
	plots := map[string]string{}
	for _, r := range recs {
		if r.rep != 1 || r.mode != modeKA {
			continue
		}
		png, err := plotLatency(b.ctx, b.o.out, prefix+"latency-"+slug(r.system), r)
		if err != nil {
			return nil, err
		}
		plots[r.system] = png
	}
	for _, mode := range []string{modeKA, modeNew} {
		png, err := plotShares(b.ctx, b.o.out, prefix+"shares-"+slug(mode), pickMode(recs, mode, 1), b.names)
		if err != nil {
			return nil, err
		}
		plots[mode] = png
	}
	return plots, nil
}
