//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// WrkOptions is one run of wrk (Debian's package), the lighter second load
// generator the bench checks vegeta against: a closed loop of Connections
// keep-alive connections on Threads threads for Duration. Only loopback
// targets are allowed.
type WrkOptions struct {
	URL         string
	Threads     int
	Connections int
	Duration    time.Duration
	// NewConnections sends "Connection: close": a new connection per
	// request.
	NewConnections bool
}

// WrkResult is what wrk printed, and what it cost.
type WrkResult struct {
	Requests int
	Rate     float64 // requests/s, as wrk reports it
	P50, P99 time.Duration
	// Errors counts socket errors and non-2xx/3xx answers.
	Errors int
	// ClientCPU is wrk's share of the machine's CPUs while it ran.
	ClientCPU float64
}

// Wrk runs wrk and reads its report.
func Wrk(ctx context.Context, o WrkOptions) (WrkResult, error) {
	var r WrkResult
	if err := loopbackURL(o.URL); err != nil {
		return r, err
	}
	if o.Duration <= 0 || o.Duration > 10*time.Minute {
		return r, fmt.Errorf("wrk duration %s: want a bound of at most 10m", o.Duration)
	}
	if o.Threads < 1 || o.Connections < o.Threads {
		return r, fmt.Errorf("wrk: %d threads, %d connections: want at least one connection per thread", o.Threads, o.Connections)
	}
	args := []string{"-t", strconv.Itoa(o.Threads), "-c", strconv.Itoa(o.Connections),
		"-d", fmt.Sprintf("%ds", max(1, int(o.Duration.Seconds()))), "--latency", "--timeout", "10s"}
	if o.NewConnections {
		args = append(args, "-H", "Connection: close")
	}
	cmd := exec.CommandContext(ctx, "wrk", append(args, o.URL)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return r, fmt.Errorf("wrk: %w: %s", err, out.String())
	}
	r.ClientCPU = cpuShare(cmd.ProcessState, time.Since(start))
	if err := parseWrk(out.String(), &r); err != nil {
		return r, fmt.Errorf("wrk: %w:\n%s", err, out.String())
	}
	return r, nil
}

var (
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRate     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkQuantile = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\b`)
	wrkSocket   = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk's report (with --latency).
func parseWrk(s string, r *WrkResult) error {
	m := wrkRequests.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("no request count in its report")
	}
	r.Requests, _ = strconv.Atoi(m[1])
	m = wrkRate.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("no Requests/sec in its report")
	}
	r.Rate, _ = strconv.ParseFloat(m[1], 64)
	for _, q := range wrkQuantile.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(q[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[q[3]]
		d := time.Duration(v * float64(unit))
		if q[1] == "50" {
			r.P50 = d
		} else {
			r.P99 = d
		}
	}
	if r.P99 == 0 {
		return fmt.Errorf("no latency distribution in its report (--latency)")
	}
	if m := wrkSocket.FindStringSubmatch(s); m != nil {
		for _, n := range m[1:] {
			k, _ := strconv.Atoi(n)
			r.Errors += k
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		k, _ := strconv.Atoi(m[1])
		r.Errors += k
	}
	return nil
}
