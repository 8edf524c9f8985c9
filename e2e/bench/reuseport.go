package main

import (
	"context"
	"fmt"
	"time"

	"example.com/app/e2e"
	"example.com/app/reloader"
)

// useSocketMode writes cfg (which sets `socket`) and applies it the way
// app-reloader says a change of socket mode is applied: the cluster
// restarts with its sockets.
func useSocketMode(m *e2e.Machine, cfg string, n int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := m.WriteConfig(cfg); err != nil {
			return err
		}
		if out, err := m.Run(ctx, "sh", "-c", reloader.ApplyListenChange("app")); err != nil {
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
