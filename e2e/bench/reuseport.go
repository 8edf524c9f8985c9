package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"example.com/app/e2e"
)

const portRP = 18084

// The alternative to one shared socket, for comparison only: one
// SO_REUSEPORT listening socket per instance, all on the same port, so
// that the kernel hashes each new connection to one of them.
const rpSocket = `[Unit]
Description=bench: instance %i's own SO_REUSEPORT socket

[Socket]
ListenStream=127.0.0.1:18084
ReusePort=yes
Backlog=4096
`

const rpService = `[Unit]
Description=bench: instance %i on its own SO_REUSEPORT socket
Requires=rp@%i.socket
After=rp@%i.socket

[Service]
Type=notify
NotifyAccess=main
Sockets=rp@%i.socket
NonBlocking=yes
Environment=APP_INSTANCE=%i
ExecStart=/usr/bin/app
KillMode=mixed
TimeoutStopSec=30s
`

// startReusePort installs rp@.socket and rp@.service and starts n
// instances of them.
func startReusePort(ctx context.Context, m *e2e.Machine, n int) error {
	for name, body := range map[string]string{"rp@.socket": rpSocket, "rp@.service": rpService} {
		if err := os.WriteFile(filepath.Join(m.Root, "etc/systemd/system", name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	args := []string{"systemctl", "start"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprintf("rp@%d.socket", i), fmt.Sprintf("rp@%d.service", i))
	}
	for _, cmd := range [][]string{{"systemctl", "daemon-reload"}, args} {
		if out, err := m.Run(ctx, cmd...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
	}
	return nil
}

// rollReusePort restarts the instances one at a time, waiting for each,
// as app-reloader does with surge off.
func rollReusePort(m *e2e.Machine, n int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for i := 0; i < n; i++ {
			if out, err := m.Run(ctx, "systemctl", "restart", fmt.Sprintf("rp@%d.service", i)); err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
		}
		return nil
	}
}

// downRec is a fixed-rate load with one instance stopped for a while.
type downRec struct {
	label    string
	rep      int
	failed   int
	sent     int
	down     e2e.Stats // requests sent while the instance was stopped
	downFor  time.Duration
	shareOne int // requests the stopped instance served meanwhile
}

// measureDown stops one instance under new-connection load, waits, and
// starts it again.
func measureDown(ctx context.Context, o options, veg *e2e.Vegeta, m *e2e.Machine, label, url, unit string, rep int) (downRec, error) {
	r := downRec{label: label, rep: rep, downFor: 5 * time.Second}
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
	out, serr := m.Run(ctx, "systemctl", "start", unit)
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
