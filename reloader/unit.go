package reloader

import (
	"context"
	"fmt"
	"time"
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
	// Tether starts the transient scope unit `scope`, which lives as long
	// as this process does, even if it is killed. The returned function
	// ends it. Units bound to it (BindsTo=) can only run meanwhile.
	Tether(ctx context.Context, scope string) (untether func(context.Context) error, err error)
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
	// NeedDaemonReload: the unit's file or drop-ins changed on disk since
	// systemd loaded them.
	NeedDaemonReload bool `json:"need_daemon_reload,omitempty"`
	// Listen is a socket unit's addresses, as systemd has them loaded.
	Listen []string `json:"listen,omitempty"`
	// Accounting is AccountingProcess when CPU or Memory could not come
	// from systemd's accounting and are the main process's instead.
	Accounting string `json:"accounting,omitempty"`
}

// AccountingProcess marks a Unit whose CPU or memory is its main
// process's (from /proc) rather than its control group's.
const AccountingProcess = "main process"

// Running is whether a unit has (or is getting) a process.
func (u Unit) Running() bool {
	switch u.ActiveState {
	case "active", "activating", "reloading":
		return true
	}
	return false
}

// StateText is the unit's state in a word or two, as status shows it:
// "active", "activating/start", "failed (exit-code)", and "STOPPED: crash
// loop" for an instance the crash-loop guard keeps down.
func (u Unit) StateText() string {
	if u.Result == "exec-condition" {
		return "STOPPED: crash loop"
	}
	state := u.ActiveState
	if u.SubState != "" && u.SubState != "running" {
		state += "/" + u.SubState
	}
	if u.ActiveState == "failed" && u.Result != "" {
		state += " (" + u.Result + ")"
	}
	return state
}

// Size writes a number of bytes as status shows it: 12.3M, 2.0G, "-"
// for none.
func Size(b uint64) string {
	switch {
	case b == 0:
		return "-"
	case b >= 1<<40:
		return fmt.Sprintf("%.1fT", float64(b)/(1<<40))
	case b >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.0fK", float64(b)/(1<<10))
	}
}
