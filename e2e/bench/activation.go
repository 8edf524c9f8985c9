//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"example.com/app/e2e"
)

// actRec is one closed-loop run against one worker process, socket-
// activated or listening on its own.
type actRec struct {
	how, mode string
	rep       int
	rate      float64
	p50, p99  time.Duration
	failed    int
}

const (
	portPlain     = 18082
	portActivated = 18083
)

// startActivationPair starts the same binary twice as transient units: one
// listening itself, one on a socket systemd passes it.
func startActivationPair(ctx context.Context, m *e2e.Machine) error {
	for _, args := range [][]string{
		{"systemd-run", "--unit=bench-plain", "-p", "Type=notify", "--setenv=APP_INSTANCE=plain",
			"/usr/bin/app", "-listen", fmt.Sprintf("127.0.0.1:%d", portPlain)},
		{"systemd-run", "--unit=bench-activated", fmt.Sprintf("--socket-property=ListenStream=127.0.0.1:%d", portActivated),
			"--socket-property=Backlog=4096", "-p", "Type=notify", "--setenv=APP_INSTANCE=activated", "/usr/bin/app"},
	} {
		if out, err := m.Run(ctx, args...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
	}
	return nil
}

func measureActivation(ctx context.Context, o options, veg *e2e.Vegeta, how string, port int, mode string, rep int) (actRec, error) {
	r := actRec{how: how, mode: mode, rep: rep}
	dur := 5 * time.Second
	if o.quick {
		dur = 2 * time.Second
	}
	a, err := veg.Attack(ctx, e2e.AttackOptions{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), Workers: o.workers,
		Duration: dur, KeepAlive: mode == modeKA, Connections: o.workers})
	if err != nil {
		return r, err
	}
	hits, err := a.Wait(ctx)
	if err != nil {
		return r, err
	}
	st := e2e.Summarize(hits, time.Time{}, time.Time{})
	r.rate = float64(st.N-st.Failed) / dur.Seconds()
	r.p50, r.p99, r.failed = st.P50, st.P99, st.Failed
	time.Sleep(time.Second)
	return r, nil
}

// activationCost serves the same binary socket-activated and listening
// itself, A B B A in each repetition.
func (b *bench) activationCost() ([]actRec, error) {
	fmt.Fprintln(b.w, "== cost of socket activation: the same binary, activated or listening itself")
	if err := startActivationPair(b.ctx, b.m); err != nil {
		return nil, err
	}
	var acts []actRec
	hows := []struct {
		name string
		port int
	}{{"listening itself", portPlain}, {"socket-activated", portActivated}}
	warm := b.o
	warm.quick = true
	for _, h := range hows { // warm both up; not kept
		if _, err := measureActivation(b.ctx, warm, b.veg, h.name, h.port, modeKA, 0); err != nil {
			return nil, fmt.Errorf("activation cost, %s: %w", h.name, err)
		}
	}
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, mode := range []string{modeKA, modeNew} {
			// A B B A (or B A A B): drift over the run cancels out.
			first, second := hows[rep%2], hows[1-rep%2]
			sum := map[string]actRec{}
			for _, h := range []struct {
				name string
				port int
			}{first, second, second, first} {
				r, err := measureActivation(b.ctx, b.o, b.veg, h.name, h.port, mode, rep)
				if err != nil {
					return nil, fmt.Errorf("activation cost, %s: %w", h.name, err)
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
				fmt.Fprintf(b.w, "[rep %d] %-17s %-27s %7.0f req/s | p50 %s p99 %s | failed %d\n", rep, h.name, mode, r.rate, ms(r.p50), ms(r.p99), r.failed)
				acts = append(acts, r)
			}
		}
	}
	return acts, nil
}
