//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"example.com/app/e2e/rawhttp"
)

// LoadOptions bounds a load in count and time; both are required.
type LoadOptions struct {
	Addr      string // host:port on loopback
	Path      string // default "/"
	KeepAlive int    // clients each holding one keep-alive connection
	// Pace, if set, has each keep-alive client send one request per Pace
	// (a fixed rate, so that the share of requests an instance serves is
	// the share of connections it holds); otherwise as fast as answers come.
	Pace        time.Duration
	NewConn     int           // clients opening a new connection per request
	MaxRequests int64         // stop after this many requests in all
	MaxDuration time.Duration // and after this long
	// NetNS, if set, is the namespace the clients connect from (Addr is
	// then that namespace's loopback or one of its peers).
	NetNS *NetNS
}

// Sample is one request as the client saw it.
type Sample struct {
	At       time.Time
	Latency  time.Duration
	Instance string // X-Instance
	Version  string // X-Version
	Err      string // empty when the answer was a 200
}

// Load is HTTP traffic running against the cluster until Stop or its bounds.
// Keep-alive clients use raw connections and count every error: unlike
// net/http's client, they never retry a request on a fresh connection, so a
// request lost to a closing connection shows.
type Load struct {
	opts     LoadOptions
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	issued   atomic.Int64
	mu       sync.Mutex
	samples  []Sample
	started  time.Time
}

// StartLoad starts the clients.
func StartLoad(opts LoadOptions) (*Load, error) {
	if opts.MaxRequests <= 0 || opts.MaxDuration <= 0 {
		return nil, fmt.Errorf("load: bound it: MaxRequests %d, MaxDuration %s", opts.MaxRequests, opts.MaxDuration)
	}
	// From this machine's namespace, loopback only; from a namespace a
	// test made, whose links lead only to other such namespaces, any of
	// its addresses.
	if ip := parseHost(opts.Addr); ip == nil || !ip.IsLoopback() && opts.NetNS == nil {
		return nil, fmt.Errorf("load: %q: test traffic goes to loopback or to a test's own network namespace only", opts.Addr)
	}
	if opts.Path == "" {
		opts.Path = "/"
	}
	l := &Load{opts: opts, stop: make(chan struct{}), started: time.Now()}
	deadline := l.started.Add(opts.MaxDuration)
	for i := 0; i < opts.KeepAlive; i++ {
		l.wg.Add(1)
		go l.keepAlive(deadline)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	if opts.NetNS != nil {
		tr.DialContext = func(_ context.Context, network, addr string) (net.Conn, error) { return opts.NetNS.Dial(network, addr) }
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for i := 0; i < opts.NewConn; i++ {
		l.wg.Add(1)
		go l.newConn(client, deadline)
	}
	return l, nil
}

func parseHost(addr string) net.IP {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}

// next reports whether a client may send another request.
func (l *Load) next(deadline time.Time) bool {
	select {
	case <-l.stop:
		return false
	default:
	}
	return time.Now().Before(deadline) && l.issued.Add(1) <= l.opts.MaxRequests
}

func (l *Load) record(s Sample) {
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
}

func (l *Load) keepAlive(deadline time.Time) {
	defer l.wg.Done()
	var c *rawhttp.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	tick := time.Now()
	if l.opts.Pace > 0 {
		tick = tick.Add(-rand.N(l.opts.Pace)) // clients out of step
	}
	for l.next(deadline) {
		if l.opts.Pace > 0 {
			tick = tick.Add(l.opts.Pace)
			select {
			case <-time.After(time.Until(tick)):
			case <-l.stop:
				return
			}
		}
		start := time.Now()
		s := Sample{At: start}
		if c == nil {
			var err error
			if c, err = l.dial(); err != nil {
				s.Err, s.Latency = err.Error(), time.Since(start)
				l.record(s)
				c = nil
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		resp, err := c.Get(l.opts.Path)
		s.Latency = time.Since(start)
		if err != nil {
			s.Err = err.Error()
		} else {
			s.Instance, s.Version = resp.Header.Get("X-Instance"), resp.Header.Get("X-Version")
			if resp.StatusCode != http.StatusOK {
				s.Err = resp.Status
			}
		}
		l.record(s)
		if err != nil || resp.Close {
			c.Close()
			c = nil
		}
	}
}

func (l *Load) newConn(client *http.Client, deadline time.Time) {
	defer l.wg.Done()
	url := "http://" + l.opts.Addr + l.opts.Path
	for l.next(deadline) {
		start := time.Now()
		s := Sample{At: start}
		resp, err := client.Get(url)
		if err != nil {
			s.Err = err.Error()
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			s.Instance, s.Version = resp.Header.Get("X-Instance"), resp.Header.Get("X-Version")
			if resp.StatusCode != http.StatusOK {
				s.Err = resp.Status
			}
		}
		s.Latency = time.Since(start)
		l.record(s)
	}
}

// Instances is the set of instances that answered so far.
func (l *Load) Instances() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range l.samples {
		if s.Err == "" {
			seen[s.Instance] = true
		}
	}
	return seen
}

// dial opens a keep-alive client connection to the target, from the
// namespace the load runs in.
func (l *Load) dial() (*rawhttp.Conn, error) {
	if l.opts.NetNS == nil {
		return rawhttp.Dial(l.opts.Addr)
	}
	c, err := l.opts.NetNS.Dial("tcp", l.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return rawhttp.New(c), nil
}

// Stop ends the load and returns what it saw. Stopping it again returns
// the same.
func (l *Load) Stop() Result {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return Result{Samples: append([]Sample(nil), l.samples...), Started: l.started, Stopped: time.Now()}
}

// Result is a finished load.
type Result struct {
	Samples          []Sample
	Started, Stopped time.Time
}

// Window is the part of a result between two times.
func (r Result) Window(from, to time.Time) Result {
	out := Result{Started: from, Stopped: to}
	for _, s := range r.Samples {
		if !s.At.Before(from) && s.At.Before(to) {
			out.Samples = append(out.Samples, s)
		}
	}
	return out
}

// Served counts the 200s, Failed the rest.
func (r Result) Served() int { return len(r.Samples) - r.Failed() }

// Failed counts requests that got no 200.
func (r Result) Failed() int {
	n := 0
	for _, s := range r.Samples {
		if s.Err != "" {
			n++
		}
	}
	return n
}

// Errors lists up to n distinct errors with their counts.
func (r Result) Errors(n int) []string {
	count := map[string]int{}
	for _, s := range r.Samples {
		if s.Err != "" {
			count[s.Err]++
		}
	}
	var out []string
	for e, c := range count {
		out = append(out, fmt.Sprintf("%d× %s", c, e))
	}
	sort.Strings(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// By counts the served requests by a key of the sample.
func (r Result) By(key func(Sample) string) map[string]int {
	out := map[string]int{}
	for _, s := range r.Samples {
		if s.Err == "" {
			out[key(s)]++
		}
	}
	return out
}

// Quantile returns the q-quantile (0 < q ≤ 1) of the served requests'
// latency.
func (r Result) Quantile(q float64) time.Duration {
	var ls []time.Duration
	for _, s := range r.Samples {
		if s.Err == "" {
			ls = append(ls, s.Latency)
		}
	}
	if len(ls) == 0 {
		return 0
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	return quantile(ls, q)
}

// Rate is served requests per second over the window.
func (r Result) Rate() float64 {
	d := r.Stopped.Sub(r.Started).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.Served()) / d
}

// Summary is one line a person can read.
func (r Result) Summary() string {
	return fmt.Sprintf("%d served, %d failed, %.0f req/s, p50 %s, p99 %s, max %s",
		r.Served(), r.Failed(), r.Rate(), r.Quantile(0.5).Round(time.Microsecond),
		r.Quantile(0.99).Round(time.Microsecond), r.Quantile(1).Round(time.Microsecond))
}
