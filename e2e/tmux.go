//go:build linux

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Pane is a tmux session inside a container: a real terminal for the
// terminal views (top, colours, progress in place), read back with
// capture-pane.
type Pane struct {
	m      *Machine
	name   string
	socket string
}

var tmuxServers atomic.Int64

// Tmux starts command in a new detached tmux session of width × height
// inside the container. Each session has a tmux server of its own (-L): a
// session started just after another was killed would otherwise meet
// that server on its way out ("server exited unexpectedly").
func (m *Machine) Tmux(ctx context.Context, name string, width, height int, command string) (*Pane, error) {
	p := &Pane{m: m, name: name, socket: fmt.Sprintf("e2e-%s-%d", name, tmuxServers.Add(1))}
	out, err := m.Run(ctx, "env", "TERM=xterm-256color", "tmux", "-L", p.socket, "new-session", "-d", "-s", name,
		"-x", strconv.Itoa(width), "-y", strconv.Itoa(height), command)
	if err != nil {
		return nil, fmt.Errorf("tmux: %w: %s", err, out)
	}
	return p, nil
}

// tmux runs a tmux command on the pane's own server.
func (p *Pane) tmux(ctx context.Context, args ...string) (string, error) {
	return p.m.Run(ctx, append([]string{"tmux", "-L", p.socket}, args...)...)
}

// Capture is what the pane shows; with escapes, its colours as SGR
// sequences too.
func (p *Pane) Capture(ctx context.Context, escapes bool) (string, error) {
	args := []string{"capture-pane", "-p", "-t", p.name}
	if escapes {
		args = append(args, "-e")
	}
	return p.tmux(ctx, args...)
}

// WaitFor captures the pane until ok accepts what it shows, and returns
// that; after timeout it returns the last capture and an error.
func (p *Pane) WaitFor(ctx context.Context, timeout time.Duration, escapes bool, ok func(string) bool) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, err := p.Capture(ctx, escapes)
		if err == nil && ok(s) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("tmux %s: not there after %s (err %v)", p.name, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Keys types keys into the pane (tmux send-keys names: "q", "C-c").
func (p *Pane) Keys(ctx context.Context, keys ...string) error {
	out, err := p.tmux(ctx, append([]string{"send-keys", "-t", p.name}, keys...)...)
	if err != nil {
		return fmt.Errorf("tmux send-keys: %w: %s", err, out)
	}
	return nil
}

// Alive reports whether the session still exists (its command runs).
func (p *Pane) Alive(ctx context.Context) bool {
	_, err := p.tmux(ctx, "has-session", "-t", p.name)
	return err == nil
}

// Kill ends the session.
func (p *Pane) Kill(ctx context.Context) {
	_, _ = p.tmux(ctx, "kill-session", "-t", p.name)
}

// Lines are the non-empty lines of a capture.
func Lines(capture string) []string {
	var out []string
	for _, l := range strings.Split(capture, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimRight(l, " "))
		}
	}
	return out
}
