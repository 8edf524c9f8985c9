package reloader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
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
	// Dir holds the instances' probe directories; "" is units.ProbeDir.
	Dir string
	// Interval between attempts; 0 is 200ms.
	Interval time.Duration

	// peer checks that the process answering on the socket belongs to the
	// unit probed; nil is peerInUnit. Tests serve from their own process.
	peer func(pid int32, unit string) error
}

// ErrProbeSocket is wrapped by the error about a probe socket that is not
// what the instance itself serves: a symlink, another file, or a socket
// of a process outside the instance.
var ErrProbeSocket = errors.New("refused probe socket")

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
	return filepath.Join(dir, inst, units.ProbeSocketName)
}

// dial connects to an instance's probe socket as root would, without
// trusting what the instance controls. The directory is systemd's (with
// DynamicUser=, /run/app/probe/N is a link it makes to
// /run/private/app/probe/N), but what is in it belongs to the instance's
// user: the path must name a socket, not a symlink to one elsewhere
// (systemd's own, say), and the process listening on it must run in the
// instance's unit.
func (p *Probe) dial(ctx context.Context, sock, unit string) (net.Conn, error) {
	fi, err := os.Lstat(sock)
	switch {
	case err != nil:
		return nil, err
	case fi.Mode()&os.ModeSymlink != 0:
		return nil, fmt.Errorf("%w: %s is a symlink", ErrProbeSocket, sock)
	case fi.Mode().Type() != os.ModeSocket:
		return nil, fmt.Errorf("%w: %s is a %s, not a socket", ErrProbeSocket, sock, fileType(fi.Mode()))
	}
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	pid, err := peerPID(c)
	if err == nil {
		check := p.peer
		if check == nil {
			check = peerInUnit
		}
		err = check(pid, unit)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func fileType(m os.FileMode) string {
	switch m.Type() {
	case os.ModeSocket:
		return "socket"
	case os.ModeDir:
		return "directory"
	case 0:
		return "regular file"
	}
	return m.Type().String()
}

// peerInUnit checks that process pid runs in unit's control group.
func peerInUnit(pid int32, unit string) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return fmt.Errorf("%w: its process %d: %w", ErrProbeSocket, pid, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasSuffix(line, "/"+unit) {
			return nil
		}
	}
	return fmt.Errorf("%w: it is served by process %d, which is not in %s", ErrProbeSocket, pid, unit)
}

// Check probes the instance until it answers 2xx or 3xx, or Timeout passes.
// A socket that is not the instance's own fails it at once.
func (p *Probe) Check(ctx context.Context, unit string) error {
	sock := p.Socket(unit)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return p.dial(ctx, sock, unit)
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
		if left <= 0 || ctx.Err() != nil || errors.Is(err, ErrProbeSocket) {
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

// MigrateProbeDir turns the probe directory of an older release into what
// the units make now. Releases before this one had one probe directory
// for all instances (RuntimeDirectory=app/probe), which systemd makes a
// link to /run/private/app/probe for a dynamic user; with a directory
// per instance (app/probe/%i) systemd can no longer start an instance
// while that link is there ("File exists"). The running instances keep
// their sockets where they are.
func MigrateProbeDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("probe directory of an older release: %w", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("probe directory: %w", err)
	}
	return nil
}
