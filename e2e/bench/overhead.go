//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"example.com/app/e2e"
	"example.com/app/reloader"
)

// overheadRec is one rollout with no load, to see what the orchestration
// costs on top of the instances' own start-up.
type overheadRec struct {
	n, rep       int
	surge        bool
	total        time.Duration // app-reloader reload, wall time
	daemonReload time.Duration
	startups     time.Duration // sum of every started unit's Starting→Started
	started      int           // units started (instances, and the spare)
	reloader     e2e.Usage     // what app-reloader reload itself cost
}

// perInstance is the overhead per configured instance.
func (r overheadRec) perInstance() time.Duration {
	return (r.total - r.startups) / time.Duration(r.n)
}

// measureOverhead scales the cluster to n instances, then times one
// rollout against systemd's own record of each instance's start-up.
func measureOverhead(ctx context.Context, m *e2e.Machine, config string, n, rep int) (overheadRec, error) {
	r := overheadRec{n: n, rep: rep}
	if err := m.WriteConfig(config); err != nil {
		return r, err
	}
	if out, err := m.Run(ctx, "app-reloader", "reload"); err != nil {
		return r, fmt.Errorf("scale to %d: %w: %s", n, err, out)
	}
	if err := m.WaitActive(ctx, 30*time.Second, e2e.Instances(n)...); err != nil {
		return r, err
	}
	time.Sleep(500 * time.Millisecond)
	since := time.Now()
	t0 := time.Now()
	out, usage, err := m.RunUsage(ctx, "app-reloader", "reload", "--json")
	r.total, r.reloader = time.Since(t0), usage
	if err != nil {
		return r, fmt.Errorf("reload: %w: %s", err, out)
	}
	var rep2 reloader.Report
	if err := json.NewDecoder(strings.NewReader(out[strings.Index(out, "{"):])).Decode(&rep2); err != nil {
		return r, fmt.Errorf("reload --json: %w", err)
	}
	r.daemonReload = rep2.DaemonReload
	evs, err := m.Events(ctx, since)
	if err != nil {
		return r, err
	}
	for _, d := range e2e.StartupTimes(evs) {
		r.startups += d
		r.started++
	}
	return r, nil
}

// overheads times rollouts of 2, 4 and 8 instances, surge on and off, with
// no load.
func (b *bench) overheads() ([]overheadRec, error) {
	fmt.Fprintln(b.w, "== rollout overhead by instance count, no load")
	var ovs []overheadRec
	counts := []int{2, 4, 8}
	for rep := 1; rep <= b.o.reps; rep++ {
		for k := range counts {
			n := counts[(k+rep-1)%len(counts)]
			for _, surge := range []bool{true, false} {
				// The orchestration alone: no canary hold (its cost is
				// measured below).
				r, err := measureOverhead(b.ctx, b.m, fmt.Sprintf("listen = [%q]\ninstances = %d\nsurge = %v\ncanary_uptime = \"0s\"\n", b.ours, n, surge), n, rep)
				if err != nil {
					return nil, fmt.Errorf("overhead, %d instances: %w", n, err)
				}
				r.surge = surge
				fmt.Fprintf(b.w, "[rep %d] %d instances, surge %-5v: rollout %s, daemon-reload %s, own start-ups %s (%d units) → %s per instance\n",
					rep, n, surge, secs(r.total), secs(r.daemonReload), secs(r.startups), r.started, ms(r.perInstance()))
				ovs = append(ovs, r)
			}
		}
	}
	return ovs, nil
}
