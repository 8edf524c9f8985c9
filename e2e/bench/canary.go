//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"example.com/app/e2e"
	"example.com/app/units"
)

// canaryRec is one rollout with no load, with or without the canary hold.
type canaryRec struct {
	hold  time.Duration // canary_uptime
	rep   int
	total time.Duration
}

// measureCanary times rollouts of 2 instances (surge on, the default)
// with canary_uptime 0s and at its default, in A B B A order in each
// repetition, so that drift over the run cancels out.
func measureCanary(ctx context.Context, o options, m *e2e.Machine, addr string, w io.Writer) ([]canaryRec, error) {
	fmt.Fprintln(w, "== the canary hold's cost: rollouts of 2 instances, no load")
	holds := []time.Duration{0, units.DefaultCanaryUptime}
	var out []canaryRec
	for rep := 1; rep <= o.reps; rep++ {
		a, b := holds[rep%2], holds[1-rep%2]
		for _, h := range []time.Duration{a, b, b, a} {
			cfg := fmt.Sprintf("listen = [%q]\ninstances = 2\ncanary_uptime = %q\n", addr, h.String())
			r, err := measureOverhead(ctx, m, cfg, 2, rep)
			if err != nil {
				return nil, fmt.Errorf("canary %s: %w", h, err)
			}
			fmt.Fprintf(w, "[rep %d] canary_uptime %-4s rollout %s\n", rep, h, secs(r.total))
			out = append(out, canaryRec{hold: h, rep: rep, total: r.total})
		}
	}
	return out, nil
}

// renderCanary is the canary hold's section of the document.
func renderCanary(rs []canaryRec) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## What the canary hold costs a rollout\n\n")
	p("A server that says `READY=1` before its workers boot (Debian's gunicorn) is caught by holding the first instance of a new release, the spare, for `canary_uptime` (default %s) before any running instance is touched. No load, 2 instances, surge on; each repetition times rollouts A B B A (canary 0s and the default), min / median / max of the repetitions' means:\n\n", units.DefaultCanaryUptime)
	p("| canary_uptime | rollout | cost over 0s |\n| --- | --- | --- |\n")
	byHold := map[time.Duration]map[int][]float64{}
	for _, r := range rs {
		if byHold[r.hold] == nil {
			byHold[r.hold] = map[int][]float64{}
		}
		byHold[r.hold][r.rep] = append(byHold[r.hold][r.rep], r.total.Seconds())
	}
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	for _, h := range []time.Duration{0, units.DefaultCanaryUptime} {
		var totals, costs []float64
		for rep, xs := range byHold[h] {
			totals = append(totals, mean(xs))
			costs = append(costs, mean(xs)-mean(byHold[0][rep]))
		}
		p("| %s | %s s | %s s |\n", h, fx(totals, "%.2f"), fx(costs, "%.2f"))
	}
	p("\nThe hold is paid once per rollout, whatever the number of instances.\n\n")
	return b.String()
}
