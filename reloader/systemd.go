package reloader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
)

// Systemd is what the reloader needs from the service manager.
type Systemd interface {
	// DaemonReload reloads unit files and reruns generators.
	DaemonReload(ctx context.Context) error
	// Start, Restart and Stop enqueue a job and wait for its result:
	// "done", "canceled", "timeout", "failed", "dependency" or "skipped".
	Start(ctx context.Context, unit string) (string, error)
	Restart(ctx context.Context, unit string) (string, error)
	Stop(ctx context.Context, unit string) (string, error)
	// ResetFailed clears a unit's failed state and its start rate limit.
	ResetFailed(ctx context.Context, unit string) error
	// Unit reads a unit's state.
	Unit(ctx context.Context, unit string) (Unit, error)
	// List returns the loaded units matching a glob, such as "app@*.service".
	List(ctx context.Context, pattern string) ([]string, error)
	// Journal returns up to n of the unit's last log lines.
	Journal(ctx context.Context, unit string, n int) ([]string, error)
}

// Unit is the state of one unit, as systemd reports it.
type Unit struct {
	Name        string    `json:"unit"`
	ActiveState string    `json:"active_state"` // active, activating, deactivating, inactive, failed
	SubState    string    `json:"sub_state"`
	Result      string    `json:"result"` // success, exit-code, signal, timeout, start-limit-hit, …
	MainPID     uint32    `json:"pid"`
	Since       time.Time `json:"since,omitzero"` // ActiveEnterTimestamp
	NRestarts   uint32    `json:"restarts"`
	Memory      uint64    `json:"memory_bytes,omitempty"` // MemoryCurrent
	CPU         uint64    `json:"cpu_nsec,omitempty"`     // CPUUsageNSec
	StatusText  string    `json:"status_text,omitempty"`  // the worker's STATUS=
	ExitCode    int32     `json:"exit_status,omitempty"`  // ExecMainStatus
}

// DBus is [Systemd] over a D-Bus connection to the system manager.
type DBus struct {
	conn *sd.Conn
}

// Connect connects to systemd over the system bus (as root, falling back to
// systemd's private socket). The connection outlives ctx: go-systemd closes
// a connection when the context it was made with ends, and an interrupted
// rollout still needs the bus to finish the instance in progress.
func Connect(ctx context.Context) (*DBus, error) {
	c, err := sd.NewWithContext(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus: %w", err)
	}
	return &DBus{conn: c}, nil
}

// Close closes the connection.
func (d *DBus) Close() { d.conn.Close() }

// DaemonReload implements [Systemd].
func (d *DBus) DaemonReload(ctx context.Context) error {
	if err := d.conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

func (d *DBus) job(ctx context.Context, verb string, f jobFunc, unit string) (string, error) {
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s %s: waiting for the job: %w", verb, unit, ctx.Err())
	}
}

// Start implements [Systemd].
func (d *DBus) Start(ctx context.Context, unit string) (string, error) {
	return d.job(ctx, "start", d.conn.StartUnitContext, unit)
}

// Restart implements [Systemd].
func (d *DBus) Restart(ctx context.Context, unit string) (string, error) {
	return d.job(ctx, "restart", d.conn.RestartUnitContext, unit)
}

// Stop implements [Systemd].
func (d *DBus) Stop(ctx context.Context, unit string) (string, error) {
	return d.job(ctx, "stop", d.conn.StopUnitContext, unit)
}

// ResetFailed implements [Systemd].
func (d *DBus) ResetFailed(ctx context.Context, unit string) error {
	if err := d.conn.ResetFailedUnitContext(ctx, unit); err != nil {
		return fmt.Errorf("reset-failed %s: %w", unit, err)
	}
	return nil
}

// Unit implements [Systemd].
func (d *DBus) Unit(ctx context.Context, unit string) (Unit, error) {
	up, err := d.conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return Unit{}, fmt.Errorf("properties of %s: %w", unit, err)
	}
	u := Unit{
		Name:        unit,
		ActiveState: str(up["ActiveState"]),
		SubState:    str(up["SubState"]),
	}
	if us, ok := up["ActiveEnterTimestamp"].(uint64); ok && us > 0 {
		u.Since = time.UnixMicro(int64(us))
	}
	if !strings.HasSuffix(unit, ".service") {
		return u, nil
	}
	sp, err := d.conn.GetUnitTypePropertiesContext(ctx, unit, "Service")
	if err != nil {
		return Unit{}, fmt.Errorf("service properties of %s: %w", unit, err)
	}
	u.Result = str(sp["Result"])
	u.MainPID, _ = sp["MainPID"].(uint32)
	u.NRestarts, _ = sp["NRestarts"].(uint32)
	u.StatusText = str(sp["StatusText"])
	u.ExitCode, _ = sp["ExecMainStatus"].(int32)
	// systemd reports "unknown" as the largest uint64.
	if m, ok := sp["MemoryCurrent"].(uint64); ok && m != math.MaxUint64 {
		u.Memory = m
	}
	if c, ok := sp["CPUUsageNSec"].(uint64); ok && c != math.MaxUint64 {
		u.CPU = c
	}
	return u, nil
}

// List implements [Systemd].
func (d *DBus) List(ctx context.Context, pattern string) ([]string, error) {
	us, err := d.conn.ListUnitsByPatternsContext(ctx, nil, []string{pattern})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", pattern, err)
	}
	names := make([]string, 0, len(us))
	for _, u := range us {
		names = append(names, u.Name)
	}
	return names, nil
}

// Journal implements [Systemd] with journalctl, the journal's own reader.
func (d *DBus) Journal(ctx context.Context, unit string, n int) ([]string, error) {
	out, err := exec.CommandContext(ctx, "journalctl", "--no-pager", "-q", "-o", "short-precise",
		"-n", fmt.Sprint(n), "-u", unit).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("journalctl -u %s: %w: %s", unit, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("journalctl -u %s: %w", unit, err)
	}
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
