package reloader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"example.com/app/units"
)

// ErrUnhealthy is wrapped by the error of a health probe that did not pass.
var ErrUnhealthy = errors.New("health probe failed")

// Probe is an HTTP health check of one instance through its own probe
// socket (APP_PROBE_SOCKET), so it reaches that instance and no other,
// however the shared socket spreads connections.
type Probe struct {
	Path string // "/healthz"
	// Timeout is how long the instance has to answer 2xx or 3xx; the probe
	// retries until then (an instance may say READY=1 before it is warm).
	Timeout time.Duration
	// Dir holds the instances' probe sockets; "" is units.ProbeDir.
	Dir string
	// Interval between attempts; 0 is 200ms.
	Interval time.Duration
}

// Socket is the probe socket of an instance unit ("app@0.service").
func (p *Probe) Socket(unit string) string {
	dir := p.Dir
	if dir == "" {
		dir = units.ProbeDir
	}
	inst := strings.TrimSuffix(unit, ".service")
	if _, after, ok := strings.Cut(inst, "@"); ok {
		inst = after
	}
	return filepath.Join(dir, inst+".sock")
}

// Check probes the instance until it answers 2xx or 3xx, or Timeout passes.
func (p *Probe) Check(ctx context.Context, unit string) error {
	sock := p.Socket(unit)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	interval := p.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	deadline := time.Now().Add(p.Timeout)
	for attempts := 1; ; attempts++ {
		// Each attempt gets its own time, so that the error is the
		// instance's answer rather than the probe's own deadline.
		actx, cancel := context.WithTimeout(ctx, min(p.Timeout, 2*time.Second))
		err := p.once(actx, client)
		cancel()
		if err == nil {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return fmt.Errorf("%w: GET %s via %s: %w (%d attempts in %s)", ErrUnhealthy, p.Path, sock, err, attempts, p.Timeout)
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(interval, left)):
		}
	}
}

func (p *Probe) once(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://app"+p.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "app-reloader")
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err
		}
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("status %d %q", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
