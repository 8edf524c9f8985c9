package reloader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"

	"example.com/app/reloader/proc"
	"example.com/app/units"
)

// DefaultReportPath keeps the outcome of the last rollout.
const DefaultReportPath = "/var/lib/app/last-rollout.json"

// ReportPath is where app c's last rollout's report is kept:
// [DefaultReportPath] for the package's app.
func ReportPath(c units.Cluster) string {
	if c.Main() {
		return DefaultReportPath
	}
	return "/var/lib/app/last-rollout-" + c.App + ".json"
}

// Status is what `app-reloader status` shows.
type Status struct {
	// App is the app ("app" for the package's own).
	App    string `json:"app,omitempty"`
	Socket Unit   `json:"socket"`
	// Sockets are the instances' own sockets (socket = "reuseport").
	Sockets []Unit `json:"instance_sockets,omitempty"`
	// Steered are the instances the kernel sends new connections to
	// (socket = "reuseport", reloader/steer), in its order; SteerNote says
	// why there is no such list (none steered, or readable by root only).
	Steered     []int   `json:"steered,omitempty"`
	SteerNote   string  `json:"steer_note,omitempty"`
	Configured  int     `json:"configured_instances"`
	Instances   []Unit  `json:"instances"`
	LastRollout *Report `json:"last_rollout"`
	// ReportUnreadable: the last rollout's report is there, but readable by
	// root and the deploy group only.
	ReportUnreadable bool `json:"report_unreadable,omitempty"`
	// RolloutState is what became of the last rollout ([Status.Assess]):
	// none, running, interrupted, ok, degraded (ok, but an instance failed
	// or restarted since: SinceRollout), failed or incomplete.
	RolloutState string   `json:"rollout_state,omitempty"`
	SinceRollout []string `json:"since_rollout,omitempty"`
	// OtherApps are the host's other apps (in /etc/app/apps.d), when the
	// status is of every app: this one is the package's own.
	OtherApps []Status `json:"other_apps,omitempty"`
}

// Rollout states, as [Status.Assess] tells them.
const (
	RolloutNone        = "none"
	RolloutRunning     = "running"
	RolloutInterrupted = "interrupted"
	RolloutOK          = "ok"
	RolloutDegraded    = "degraded"
	RolloutFailed      = "failed"
	RolloutIncomplete  = "incomplete"
)

// Assess tells what became of the last rollout: still running, or
// interrupted when the process that ran it is gone (alive tells, for
// this machine's processes); and for one that ended, which instances are
// not running the process it left them with: failed, kept down as a crash
// loop, or restarted since. Status never says "ok" beside those.
func (st *Status) Assess(alive func(*proc.Process) bool) {
	st.SinceRollout = nil
	r := st.LastRollout
	switch {
	case r == nil:
		st.RolloutState = RolloutNone
		return
	case r.Running && alive(r.Process):
		st.RolloutState = RolloutRunning
		return
	case r.Running:
		st.RolloutState = RolloutInterrupted
		return
	}
	left := map[string]uint32{}
	for _, s := range r.Steps {
		if s.Action != ActionStop && s.Error == "" {
			left[s.Unit] = s.NewPID
		}
	}
	for _, u := range st.Instances {
		if u.Name == r.SpareUnit() {
			continue
		}
		switch pid, rolled := left[u.Name]; {
		case u.ActiveState != "active":
			st.SinceRollout = append(st.SinceRollout, u.Name+" "+u.StateText())
		case rolled && u.MainPID != pid:
			st.SinceRollout = append(st.SinceRollout, fmt.Sprintf("%s restarted since (pid %d → %d, %d restarts by systemd)", u.Name, pid, u.MainPID, u.NRestarts))
		}
	}
	switch {
	case r.OK && len(st.SinceRollout) > 0:
		st.RolloutState = RolloutDegraded
	case r.OK:
		st.RolloutState = RolloutOK
	case r.Failure != nil:
		st.RolloutState = RolloutFailed
	default:
		st.RolloutState = RolloutIncomplete
	}
}

// SpareUnit is the spare's unit among the report's steps, "" if none.
func (rep *Report) SpareUnit() string {
	for _, s := range rep.Steps {
		if s.Action == ActionSurge {
			return s.Unit
		}
	}
	return ""
}

// Status reads the socket and every instance: the configured ones
// (app@0 … app@want-1) and any other loaded one.
func (r *Reloader) Status(ctx context.Context, want int) (Status, error) {
	st := Status{App: r.o.Cluster.AppName(), Configured: want}
	sock, err := r.o.Systemd.Unit(ctx, r.o.Cluster.Socket())
	if err != nil {
		return st, err
	}
	st.Socket = sock
	if st.Sockets, err = r.instanceSockets(ctx); err != nil {
		return st, err
	}
	loaded, err := r.o.Systemd.List(ctx, r.o.Cluster.Instances())
	if err != nil {
		return st, err
	}
	names := r.numbers(loaded)
	for i := 0; i < want; i++ {
		names[i] = r.o.Cluster.Instance(i)
	}
	for _, n := range sortedKeys(names) {
		u, err := r.o.Systemd.Unit(ctx, names[n])
		if err != nil {
			return st, err
		}
		st.Instances = append(st.Instances, u)
	}
	// The spare shows while a rollout runs it.
	if slices.Contains(loaded, r.o.Cluster.Spare()) {
		u, err := r.o.Systemd.Unit(ctx, r.o.Cluster.Spare())
		if err != nil {
			return st, err
		}
		if u.Running() {
			st.Instances = append(st.Instances, u)
		}
	}
	return st, nil
}

// SaveReport writes a rollout's report to path, readable by its owner
// and, when that group exists, by the members of [DeployGroup] only: it
// holds the failed instance's last journal lines, which the journal
// itself shows only to adm and systemd-journal.
func SaveReport(path string, rep Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	// The deploy group reads it: it holds the failed instance's last
	// journal lines.
	setGroup := func(f *os.File) error {
		if g, gerr := user.LookupGroup(DeployGroup); gerr == nil && os.Geteuid() == 0 {
			// Without it (CAP_CHOWN), the report is root's alone: better
			// than none.
			gid, _ := strconv.Atoi(g.Gid)
			if cerr := f.Chown(-1, gid); cerr != nil {
				slog.Warn("the report stays root's: its group cannot be set", "group", DeployGroup, "err", cerr)
			}
		}
		return nil
	}
	if err := units.WriteFileAtomic(path, append(b, '\n'), 0o640, setGroup); err != nil {
		return fmt.Errorf("save report: %w", err)
	}
	return nil
}

// LoadReport reads the last saved report; nil when there is none yet.
func LoadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last rollout: %w", err)
	}
	return ParseReport(b, path)
}

// ParseReport reads a saved report; where names it in the error.
func ParseReport(b []byte, where string) (*Report, error) {
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("last rollout %s: %w", where, err)
	}
	return &rep, nil
}

// Interrupted reports whether the rollout of this report never ended: it
// was saved while running, and the process running it is gone (killed,
// or the machine rebooted).
func (rep *Report) Interrupted() bool {
	return rep.Running && !rep.Process.Alive()
}
