//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// VegetaVersion is the load generator the benchmarks use, installed from
// the Go module proxy (it is not a dependency of the module).
const VegetaVersion = "github.com/tsenart/vegeta/v12@v12.13.0"

// Vegeta runs the vegeta load generator.
type Vegeta struct{ Bin string }

// InstallVegeta installs vegeta into dir/bin once and returns it.
func InstallVegeta(ctx context.Context, dir string) (*Vegeta, error) {
	bin := filepath.Join(dir, "bin", "vegeta")
	if _, err := os.Stat(bin); err == nil {
		return &Vegeta{Bin: bin}, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", VegetaVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(bin), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go install %s: %w\n%s", VegetaVersion, err, out)
	}
	return &Vegeta{Bin: bin}, nil
}

// AttackOptions is one vegeta attack. Only loopback targets are allowed.
type AttackOptions struct {
	URL string
	// Rate is requests per second; 0 is as fast as Workers allow (a closed
	// loop, for throughput).
	Rate     int
	Workers  int // with Rate 0
	Duration time.Duration
	// KeepAlive reuses Connections connections; otherwise every request
	// opens a new one.
	KeepAlive   bool
	Connections int
}

// Attack is a running vegeta attack.
type Attack struct {
	cmd     *exec.Cmd
	out     string
	v       *Vegeta
	Started time.Time
	// ClientCPU is, once Wait returned, the share of the machine's CPUs
	// the load generator itself used while it ran (user and system time
	// over its wall time × the CPUs): on a small machine what the client
	// takes, the servers do not get.
	ClientCPU float64
}

// Attack starts an attack; Wait returns its results.
func (v *Vegeta) Attack(ctx context.Context, o AttackOptions) (*Attack, error) {
	if err := loopbackURL(o.URL); err != nil {
		return nil, err
	}
	if o.Duration <= 0 || o.Duration > 10*time.Minute {
		return nil, fmt.Errorf("attack duration %s: want a bound of at most 10m", o.Duration)
	}
	f, err := os.CreateTemp("", "vegeta-*.bin")
	if err != nil {
		return nil, err
	}
	f.Close()
	args := []string{"attack", "-duration", o.Duration.String(), "-max-body", "0", "-output", f.Name(),
		"-keepalive=" + strconv.FormatBool(o.KeepAlive), "-http2=false", "-redirects", "-1", "-timeout", "10s"}
	if o.Rate > 0 {
		args = append(args, "-rate", fmt.Sprintf("%d/1s", o.Rate))
	} else {
		args = append(args, "-rate", "0", "-max-workers", strconv.Itoa(max(1, o.Workers)))
	}
	if o.KeepAlive && o.Connections > 0 {
		args = append(args, "-connections", strconv.Itoa(o.Connections), "-max-connections", strconv.Itoa(o.Connections))
	}
	cmd := exec.CommandContext(ctx, v.Bin, args...)
	cmd.Stdin = strings.NewReader("GET " + o.URL + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	a := &Attack{cmd: cmd, out: f.Name(), v: v, Started: time.Now()}
	if err := cmd.Start(); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("vegeta attack: %w", err)
	}
	return a, nil
}

// cpuShare is the share of the machine's CPUs an exited process used over
// wall.
func cpuShare(ps *os.ProcessState, wall time.Duration) float64 {
	if ps == nil || wall <= 0 {
		return 0
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds() / wall.Seconds() / float64(runtime.NumCPU())
}

// Wait waits for the attack to end and returns every request's result.
func (a *Attack) Wait(ctx context.Context) ([]Hit, error) {
	defer os.Remove(a.out)
	if err := a.cmd.Wait(); err != nil {
		return nil, fmt.Errorf("vegeta attack: %w: %s", err, a.cmd.Stderr.(*bytes.Buffer))
	}
	a.ClientCPU = cpuShare(a.cmd.ProcessState, time.Since(a.Started))
	enc := exec.CommandContext(ctx, a.v.Bin, "encode", "--to", "json", a.out)
	stdout, err := enc.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := enc.Start(); err != nil {
		return nil, fmt.Errorf("vegeta encode: %w", err)
	}
	var out []Hit
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Code      int           `json:"code"`
			Timestamp time.Time     `json:"timestamp"`
			Latency   time.Duration `json:"latency"`
			Error     string        `json:"error"`
			Headers   http.Header   `json:"headers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("vegeta encode: %w", err)
		}
		out = append(out, Hit{At: r.Timestamp, Latency: r.Latency, Code: r.Code, Error: r.Error,
			Instance: r.Headers.Get("X-Instance"), Version: r.Headers.Get("X-Version")})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := enc.Wait(); err != nil {
		return nil, fmt.Errorf("vegeta encode: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

func loopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load goes to loopback only, not %q", u.Host)
	}
	return nil
}

// Hit is one request of an attack.
type Hit struct {
	At       time.Time // when it was sent
	Latency  time.Duration
	Code     int
	Error    string
	Instance string // X-Instance
	Version  string // X-Version
}

// OK is whether the request succeeded.
func (r Hit) OK() bool { return r.Error == "" && r.Code == http.StatusOK }

// Stats summarises results.
type Stats struct {
	N, Failed       int
	Rate            float64 // requests per second over the window
	P50, P99, P999  time.Duration
	Max             time.Duration
	Errors          map[string]int
	Window          time.Duration
	FirstAt, LastAt time.Time
}

// Summarize computes the stats of the results sent within [from, to); a
// zero bound is open.
func Summarize(rs []Hit, from, to time.Time) Stats {
	st := Stats{Errors: map[string]int{}}
	var lat []time.Duration
	for _, r := range rs {
		if (!from.IsZero() && r.At.Before(from)) || (!to.IsZero() && !r.At.Before(to)) {
			continue
		}
		if st.N == 0 || r.At.Before(st.FirstAt) {
			st.FirstAt = r.At
		}
		if r.At.After(st.LastAt) {
			st.LastAt = r.At
		}
		st.N++
		if !r.OK() {
			st.Failed++
			e := r.Error
			if e == "" {
				e = "status " + strconv.Itoa(r.Code)
			}
			st.Errors[e]++
			continue
		}
		lat = append(lat, r.Latency)
	}
	if st.N == 0 {
		return st
	}
	st.Window = st.LastAt.Sub(st.FirstAt)
	if st.Window > 0 {
		st.Rate = float64(st.N) / st.Window.Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st.P50, st.P99, st.P999 = quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 0.999)
	if len(lat) > 0 {
		st.Max = lat[len(lat)-1]
	}
	return st
}

// quantile is the nearest-rank quantile of sorted latencies: the smallest
// value at least a fraction q of them do not exceed. Both load clients
// (Load, vegeta's Summarize) use it, so that they agree on a p99.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Shares counts successful requests by instance.
func Shares(rs []Hit, from, to time.Time) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if r.OK() && (from.IsZero() || !r.At.Before(from)) && (to.IsZero() || r.At.Before(to)) {
			out[r.Instance]++
		}
	}
	return out
}

// Imbalance is the largest share over the smallest among the instances
// named (so that one that got nothing counts); +Inf if one got nothing.
func Imbalance(shares map[string]int, instances []string) float64 {
	lo, hi := math.MaxInt, 0
	for _, in := range instances {
		n := shares[in]
		lo, hi = min(lo, n), max(hi, n)
	}
	if lo == 0 {
		return math.Inf(1)
	}
	return float64(hi) / float64(lo)
}
