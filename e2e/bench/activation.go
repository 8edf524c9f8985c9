//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"example.com/app/e2e"
)

// actRec is one closed-loop run against one worker process, socket-
// activated or listening on its own; pair names the comparison it was
// measured in (pairActivation, pairBare).
type actRec struct {
	how, mode, pair string
	rep             int
	rate            float64
	clientCPU       float64
	p50, p99        time.Duration
	failed          int
}

// The comparisons of the activation section.
const (
	pairActivation = "activation" // the worker, socket-activated ÷ listening itself
	pairBare       = "bare"       // the worker ÷ bare net/http, both socket-activated
)

// servedBy is one transient unit of the activation section.
type servedBy struct {
	name string
	port int
}

var (
	byPlain     = servedBy{"listening itself", 18082}
	byActivated = servedBy{"socket-activated", 18083}
	byBare      = servedBy{"bare net/http", 18084}
)

// barePath is where the bench puts its bare net/http server (e2e/bench/bare)
// in the machine.
const barePath = "/usr/local/bin/app-bench-bare"

// installBare builds the bare net/http server into bin and copies it into
// the machine.
func installBare(ctx context.Context, m *e2e.Machine, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(bin, "bare"), "example.com/app/e2e/bench/bare")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the bare server: %w\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(bin, "bare"))
	if err != nil {
		return err
	}
	dst := filepath.Join(m.Root, barePath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// startActivationUnits starts, as transient units, the worker listening
// itself, the worker on a socket systemd passes it, and the bare net/http
// server on a socket systemd passes it.
func startActivationUnits(ctx context.Context, m *e2e.Machine) error {
	activated := func(unit, instance string, by servedBy, bin string) []string {
		return []string{"systemd-run", "--unit=" + unit, fmt.Sprintf("--socket-property=ListenStream=127.0.0.1:%d", by.port),
			"--socket-property=Backlog=4096", "-p", "Type=notify", "--setenv=APP_INSTANCE=" + instance, bin}
	}
	for _, args := range [][]string{
		{"systemd-run", "--unit=bench-plain", "-p", "Type=notify", "--setenv=APP_INSTANCE=plain",
			"/usr/bin/app", "-listen", fmt.Sprintf("127.0.0.1:%d", byPlain.port)},
		activated("bench-activated", "activated", byActivated, "/usr/bin/app"),
		activated("bench-bare", "bare", byBare, barePath),
	} {
		if out, err := m.Run(ctx, args...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
	}
	return nil
}

func measureActivation(ctx context.Context, o options, veg *e2e.Vegeta, by servedBy, mode string, rep int) (actRec, error) {
	r := actRec{how: by.name, mode: mode, rep: rep}
	dur := 5 * time.Second
	if o.quick {
		dur = 2 * time.Second
	}
	a, err := veg.Attack(ctx, e2e.AttackOptions{URL: fmt.Sprintf("http://127.0.0.1:%d/", by.port), Workers: o.workers,
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
	r.clientCPU = a.ClientCPU
	r.p50, r.p99, r.failed = st.P50, st.P99, st.Failed
	time.Sleep(time.Second)
	return r, nil
}

// abbaOrder is the order of a paired comparison's four runs: x y y x, or
// y x x y in even repetitions, so that drift over the four cancels out and
// neither side always runs first.
func abbaOrder[T any](x, y T, rep int) []T {
	if rep%2 == 0 {
		x, y = y, x
	}
	return []T{x, y, y, x}
}

// abba measures x and y in the order A B B A (B A A B in even
// repetitions), so that drift over the four runs cancels out, and returns
// the mean of each one's two runs.
func abba(ctx context.Context, o options, veg *e2e.Vegeta, x, y servedBy, mode, pair string, rep int) (actRec, actRec, error) {
	sum := map[string]actRec{}
	for _, by := range abbaOrder(x, y, rep) {
		r, err := measureActivation(ctx, o, veg, by, mode, rep)
		if err != nil {
			return actRec{}, actRec{}, fmt.Errorf("%s: %w", by.name, err)
		}
		acc := sum[by.name]
		acc.how, acc.mode, acc.pair, acc.rep = r.how, r.mode, pair, r.rep
		acc.rate += r.rate / 2
		acc.clientCPU += r.clientCPU / 2
		acc.p50 += r.p50 / 2
		acc.p99 += r.p99 / 2
		acc.failed += r.failed
		sum[by.name] = acc
	}
	return sum[x.name], sum[y.name], nil
}

// activationCost serves the same binary socket-activated and listening
// itself, and the worker against bare net/http on the same kind of passed
// socket, A B B A in each repetition.
func (b *bench) activationCost() ([]actRec, error) {
	fmt.Fprintln(b.w, "== cost of socket activation and of the worker's guarantees: the worker activated or listening itself; the worker or bare net/http")
	if err := startActivationUnits(b.ctx, b.m); err != nil {
		return nil, err
	}
	warm := b.o
	warm.quick = true
	for _, by := range []servedBy{byPlain, byActivated, byBare} { // warm up; not kept
		if _, err := measureActivation(b.ctx, warm, b.veg, by, modeKA, 0); err != nil {
			return nil, fmt.Errorf("activation cost, %s: %w", by.name, err)
		}
	}
	var acts []actRec
	for rep := 1; rep <= b.o.reps; rep++ {
		for _, mode := range []string{modeKA, modeNew} {
			for _, c := range []struct {
				pair string
				x, y servedBy
			}{{pairActivation, byActivated, byPlain}, {pairBare, byActivated, byBare}} {
				x, y, err := abba(b.ctx, b.o, b.veg, c.x, c.y, mode, c.pair, rep)
				if err != nil {
					return nil, fmt.Errorf("activation cost: %w", err)
				}
				for _, r := range []actRec{x, y} {
					fmt.Fprintf(b.w, "[rep %d] %-10s %-17s %-27s %7.0f req/s (client %2.0f%% CPU) | p50 %s p99 %s | failed %d\n",
						rep, c.pair, r.how, mode, r.rate, 100*r.clientCPU, ms(r.p50), ms(r.p99), r.failed)
				}
				fmt.Fprintf(b.w, "[rep %d] %-10s ratio %.3f\n", rep, c.pair, x.rate/y.rate)
				acts = append(acts, x, y)
			}
		}
	}
	return acts, nil
}
