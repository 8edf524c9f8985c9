package reloader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"example.com/app/reloader/proc"
	"example.com/app/units"
)

// ErrRolloutFailed is wrapped by the error of a rollout that halted.
var ErrRolloutFailed = errors.New("rollout failed")

// ErrInterrupted is wrapped by the error of a rollout stopped by its
// context between two instances: the one in progress was finished, later
// ones were not touched. Running the reload again completes it.
var ErrInterrupted = errors.New("rollout interrupted")

// JournalLines is how many log lines of a failed instance a failure shows.
const JournalLines = 10

// Actions taken on an instance.
const (
	ActionStart   = "start"
	ActionRestart = "restart"
	ActionStop    = "stop"
	// ActionSurge starts the spare instance of the new release before any
	// other is touched.
	ActionSurge = "surge"
)

// Step is what the rollout did to one instance.
type Step struct {
	Unit   string        `json:"unit"`
	Action string        `json:"action"`
	OldPID uint32        `json:"old_pid,omitempty"`
	NewPID uint32        `json:"new_pid,omitempty"`
	Ready  time.Duration `json:"ready_ns,omitempty"` // from the job's start to READY=1
	Took   time.Duration `json:"took_ns"`            // including the hold
	Error  string        `json:"error,omitempty"`
	// InProgress: the step had begun, not ended, when the report was
	// saved ([Reloader.Checkpoint]).
	InProgress bool `json:"in_progress,omitempty"`
}

// Failure is why a rollout halted.
type Failure struct {
	Unit    string   `json:"unit"`
	Reason  string   `json:"reason"`
	Journal []string `json:"journal,omitempty"`
	// Diagnosis: why, from the journal, and what setting would help.
	Diagnosis
	// Spare: the release failed on the surge spare; nothing else was touched.
	Spare bool `json:"spare,omitempty"`
	// SocketStopped: with socket = "reuseport", the failed instance's own
	// socket (Socket) was stopped with it, so that the kernel sends its
	// share of new connections to the running instances.
	Socket        string `json:"socket,omitempty"`
	SocketStopped bool   `json:"socket_stopped,omitempty"`
}

// Report is the outcome of one rollout.
type Report struct {
	// App is the app rolled ("app" for the package's own).
	App       string        `json:"app,omitempty"`
	Started   time.Time     `json:"started"`
	Took      time.Duration `json:"took_ns"`
	Instances int           `json:"instances"`
	// DaemonReload is how long applying the configuration took; zero
	// when it was skipped because nothing had changed (Unchanged).
	DaemonReload time.Duration `json:"daemon_reload_ns"`
	Unchanged    bool          `json:"config_unchanged,omitempty"`
	Steps        []Step        `json:"steps"`
	// Surge is whether a spare instance carried the configured capacity
	// through the restarts; SurgeNote says why not when surge was wanted.
	Surge     bool     `json:"surge"`
	SurgeNote string   `json:"surge_note,omitempty"`
	OK        bool     `json:"ok"`
	Error     string   `json:"error,omitempty"`   // why it did not complete
	Failure   *Failure `json:"failure,omitempty"` // the instance that failed, if one did
	// Scale: only instances that were not running were started and those
	// beyond Instances stopped (app-reloader scale); none was restarted.
	Scale bool `json:"scale,omitempty"`
	// Running: the rollout had not ended when this was saved (see
	// [Reloader.Checkpoint]). Who ran it: Process; a report still running
	// whose process is gone is an interrupted rollout ([Report.Interrupted]).
	Running bool          `json:"running,omitempty"`
	Process *proc.Process `json:"process,omitempty"`

	// ready is each started instance's state when it was ready, for the
	// check at the end ([Reloader.verify]).
	ready map[string]Unit
}

// Event is progress during a rollout: a step as it begins (Done false)
// and as it ends.
type Event struct {
	Step
	Done  bool
	Index int // 1-based position of this step among the planned ones
	Total int
}

// Options are what a [Reloader] is made with ([New]). Systemd is the only
// one without a default.
type Options struct {
	// Systemd is the service manager (sdbus.DBus is the real one).
	Systemd Systemd
	// Cluster names the units rolled; the zero value is units.App.
	Cluster units.Cluster
	// Logger gets what a rollout does; nil is slog.Default().
	Logger *slog.Logger
	// Progress, if set, is called as each step begins and ends.
	Progress func(Event)
	// Checkpoint, if set, is given the report as the rollout begins,
	// before anything is touched, and as each step begins and ends: a
	// rollout that is killed leaves a report that says so (Running) and
	// how far it got.
	Checkpoint func(Report)
	// Hold is how long a started or restarted instance must then stay
	// active with the same main PID and no restart before the rollout
	// moves on (pm2's min_uptime, Kubernetes' minReadySeconds).
	Hold time.Duration
	// CanaryHold is the hold of the first instance of the new release a
	// rollout starts (the spare, or without one the first instance
	// restarted), when longer than Hold: a server that says READY=1
	// before its workers boot (gunicorn's master) is caught there, before
	// any running instance is touched.
	CanaryHold time.Duration
	// HoldPoll is how often a hold looks; 0 is 100ms.
	HoldPoll time.Duration
	// GuardDir, if set, is the crash-loop guard's record (see [Guard]); a
	// deliberate start or restart clears the instance's record.
	GuardDir string
	// Surge: with units.SurgeOn, a rollout that has running instances to
	// replace first starts the spare instance (app@spare) of the new
	// release and restarts the others only once it is ready, so capacity
	// never drops below the configured count, and a release that cannot
	// become ready is caught on the spare with no instance touched. The
	// spare is stopped at the end. units.SurgeAuto does so unless the
	// machine lacks the memory for one more instance; "" or SurgeOff never.
	Surge units.Surge
	// MemoryLimit is an instance's memory limit (MemoryMax=), used by
	// SurgeAuto when the instances' own use is unknown; 0 if none.
	MemoryLimit uint64
	// Probe, if set, must pass through each started or restarted instance
	// after READY=1 and the hold before the rollout moves on.
	Probe *Probe
	// Files, if set, tells whether what systemd loaded is already what is
	// on disk ([FileState]): then the rollout skips the daemon-reload,
	// which costs 0.3 s idle and seconds under load.
	Files UnitFiles
	// Listen, if set, is the socket's configured addresses. A rollout
	// whose configuration moves a running socket elsewhere is refused
	// before anything is touched (ErrListenChanged): on daemon-reload
	// systemd closes the addresses no longer configured and opens the new
	// ones only when the socket restarts, which stops every instance.
	Listen []string
	// Owner, if set, tells who owns a file on the instances' machine, for
	// a failure's hints (user = "…").
	Owner Owner
	// InstanceListen, if set, is what each instance's own socket
	// (app@N.socket) listens on: socket = "reuseport". An instance taken
	// out (scaled down, or failed in a rollout) is stopped with its
	// socket, or the kernel would keep queueing a share of the new
	// connections for it. nil: the instances share app.socket, and a
	// running app@N.socket is a leftover of the other mode.
	InstanceListen []string
}

// UnitFiles tells a rollout whether a daemon-reload would change
// anything ([FileState] is the real one).
type UnitFiles interface {
	// Unchanged reports whether what systemd loaded is already what is on
	// disk, and if not, why.
	Unchanged() (bool, string, error)
	// Reloaded is told of each daemon-reload the rollout does.
	Reloaded()
}

// Reloader runs rolling reloads, scale changes and status reads of one
// cluster. Make it with [New].
type Reloader struct {
	o Options
	// memAvailable reports the machine's available memory.
	memAvailable func() (uint64, error)
}

// New makes a Reloader, with the options' defaults applied.
func New(o Options) *Reloader {
	if o.Cluster.Name == "" {
		o.Cluster = units.App
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HoldPoll <= 0 {
		o.HoldPoll = 100 * time.Millisecond
	}
	return &Reloader{o: o, memAvailable: proc.MemAvailable}
}

func (r *Reloader) log() *slog.Logger { return r.o.Logger }

// Reload applies the configuration and rolls every instance, keeping
// `want` instances: app@0 … app@want-1. It returns the report and, when the
// rollout halted, an error wrapping [ErrRolloutFailed].
//
// When ctx ends, the instance in progress is still finished (its job runs
// in systemd regardless, and an instance is never left half-rolled by the
// reloader), no further instance is touched, and the error wraps
// [ErrInterrupted].
func (r *Reloader) Reload(ctx context.Context, want int) (Report, error) {
	stop := ctx
	ctx = context.WithoutCancel(ctx)
	rep := r.begin(want, false)
	finish := rep.finish
	plan, err := r.prepare(ctx, &rep, want)
	if err != nil {
		return finish(err)
	}
	sd := r.o.Systemd
	pos := &progress{total: len(plan)}
	if rep.Surge, rep.SurgeNote, err = r.surgeWanted(ctx, plan[:want]); err != nil {
		return finish(err)
	}
	if !rep.Surge {
		if rep.SurgeNote != "" {
			r.log().Warn("rolling without a spare", "why", rep.SurgeNote)
		}
		err := r.roll(ctx, stop, &rep, plan, want, pos)
		if err == nil {
			err = r.verify(ctx, &rep)
		}
		return finish(err)
	}

	// Surge: the spare runs only while this process holds the scope; if
	// the reloader dies, systemd stops the spare (BindsTo=).
	pos.total += 2
	t1 := time.Now()
	// A failed spare of an earlier rollout would keep that rollout's scope
	// loaded, and its name taken.
	if err := sd.ResetFailed(ctx, r.o.Cluster.Spare()); err != nil {
		return finish(fmt.Errorf("surge: %w", err))
	}
	untether, err := sd.Tether(ctx, r.o.Cluster.RolloutScope())
	if err != nil {
		return finish(fmt.Errorf("surge: %w", err))
	}
	r.log().Debug("rollout scope started", "scope", r.o.Cluster.RolloutScope(), "took", time.Since(t1))
	err = r.surge(ctx, &rep, pos)
	if err == nil {
		err = r.roll(ctx, stop, &rep, plan, want, pos)
	}
	if err == nil {
		// The spare included: it served throughout, and a release whose
		// processes die after a while may have taken it down too.
		err = r.verify(ctx, &rep)
	}
	// The spare goes, whatever happened.
	spare, rerr := sd.Unit(ctx, r.o.Cluster.Spare())
	if rerr == nil {
		var retired Step
		retired, rerr = r.step(ctx, &rep, Step{Unit: r.o.Cluster.Spare(), Action: ActionStop, OldPID: spare.MainPID}, pos.next(), pos.total, 0)
		rep.Steps = append(rep.Steps, retired)
	}
	if rerr == nil {
		// Not left failed: the report and the journal keep why it failed.
		rerr = sd.ResetFailed(ctx, r.o.Cluster.Spare())
	}
	if rerr != nil {
		rerr = fmt.Errorf("stop the spare %s: %w", r.o.Cluster.Spare(), rerr)
		r.log().Error("could not stop the spare", "err", rerr)
		err = errors.Join(err, rerr)
	}
	t1 = time.Now()
	uerr := untether(ctx)
	r.log().Debug("rollout scope ended", "scope", r.o.Cluster.RolloutScope(), "took", time.Since(t1))
	if uerr != nil {
		r.log().Error("could not end the rollout scope", "scope", r.o.Cluster.RolloutScope(), "err", uerr)
		err = errors.Join(err, uerr)
	}
	return finish(err)
}

// finish completes the report of a rollout that ended with err.
func (rep *Report) finish(err error) (Report, error) {
	rep.Took = time.Since(rep.Started)
	rep.Running = false
	rep.OK = err == nil
	if err != nil {
		rep.Error = err.Error()
	}
	return *rep, err
}

// prepare applies the configuration (a daemon-reload, unless nothing
// changed) and plans the rollout: app@0 … app@want-1, then the loaded
// instances beyond them, to stop.
func (r *Reloader) prepare(ctx context.Context, rep *Report, want int) ([]string, error) {
	if want < 1 {
		return nil, fmt.Errorf("want at least 1 instance, not %d", want)
	}
	sd := r.o.Systemd
	if err := r.checkListen(ctx); err != nil {
		return nil, err
	}
	t0 := time.Now()
	unchanged, why, err := r.unchanged(ctx)
	if err != nil {
		return nil, err
	}
	if unchanged {
		rep.Unchanged = true
		r.log().Debug("configuration and unit files unchanged: no daemon-reload", "took", time.Since(t0))
	} else {
		r.log().Debug("daemon-reload needed", "why", why)
		if err := sd.DaemonReload(ctx); err != nil {
			return nil, err
		}
		if r.o.Files != nil {
			r.o.Files.Reloaded()
		}
		rep.DaemonReload = time.Since(t0)
		r.log().Debug("daemon-reload done", "took", rep.DaemonReload)
	}
	loaded, err := sd.List(ctx, r.o.Cluster.Instances())
	if err != nil {
		return nil, err
	}
	r.log().Debug("listed instances", "loaded", loaded, "took", time.Since(t0))
	extra := r.beyond(loaded, want)
	plan := make([]string, 0, want+len(extra))
	for i := 0; i < want; i++ {
		plan = append(plan, r.o.Cluster.Instance(i))
	}
	return append(plan, extra...), nil
}

// Scale applies the configuration and brings the cluster to `want`
// instances without restarting any that runs: it starts each of app@0 …
// app@want-1 that is not running, one at a time and each checked as in a
// rollout (ready, hold, probe), then stops the instances beyond want. The
// first failure halts it, as a rollout. Instances that keep running keep
// the release and settings they were started with; a reload rolls them.
func (r *Reloader) Scale(ctx context.Context, want int) (Report, error) {
	stop := ctx
	ctx = context.WithoutCancel(ctx)
	rep := r.begin(want, true)
	finish := rep.finish
	plan, err := r.prepare(ctx, &rep, want)
	if err != nil {
		return finish(err)
	}
	var starts, stops []string
	for i, unit := range plan {
		u, err := r.o.Systemd.Unit(ctx, unit)
		if err != nil {
			return finish(err)
		}
		switch {
		case i < want && !u.Running():
			starts = append(starts, unit)
		case i >= want && (u.Running() || r.o.InstanceListen != nil):
			// With its own socket, even a stopped instance takes a share
			// of new connections until the socket goes too.
			stops = append(stops, unit)
		}
	}
	todo := append(starts, stops...)
	err = r.roll(ctx, stop, &rep, todo, len(starts), &progress{total: len(todo)})
	if err == nil {
		err = r.verify(ctx, &rep)
	}
	return finish(err)
}

// unchanged is whether the loaded units already are what a daemon-reload
// would load: the generator's output matches the configuration and no
// unit of the cluster changed on disk. If not, it says why.
func (r *Reloader) unchanged(ctx context.Context) (bool, string, error) {
	if r.o.Files == nil {
		return false, "no way to tell", nil
	}
	same, why, err := r.o.Files.Unchanged()
	if err != nil || !same {
		return false, why, err
	}
	loaded, err := r.o.Systemd.List(ctx, r.o.Cluster.Instances())
	if err != nil {
		return false, "", err
	}
	for _, name := range append([]string{r.o.Cluster.Socket(), r.o.Cluster.Target(), r.o.Cluster.ReloadUnit()}, loaded...) {
		u, err := r.o.Systemd.Unit(ctx, name)
		if err != nil {
			return false, "", err
		}
		if u.NeedDaemonReload {
			return false, name + " changed on disk", nil
		}
	}
	return true, "", nil
}

// progress numbers the steps for [Event].
type progress struct{ done, total int }

func (p *progress) next() int { p.done++; return p.done }

// surge starts the spare of the new release and checks it like any
// instance. When it fails, nothing else was touched.
func (r *Reloader) surge(ctx context.Context, rep *Report, pos *progress) error {
	unit := r.o.Cluster.Spare()
	u, err := r.o.Systemd.Unit(ctx, unit)
	if err != nil {
		return err
	}
	step, err := r.step(ctx, rep, Step{Unit: unit, Action: ActionSurge, OldPID: u.MainPID}, pos.next(), pos.total, max(r.o.Hold, r.o.CanaryHold))
	rep.Steps = append(rep.Steps, step)
	if err != nil {
		rep.Failure = r.failure(ctx, unit, err)
		rep.Failure.Spare = true
		return fmt.Errorf("%s %s: %w: %w (no instance was touched)", ActionSurge, unit, err, ErrRolloutFailed)
	}
	return nil
}

// roll starts, restarts and stops the planned instances one at a time.
func (r *Reloader) roll(ctx, stop context.Context, rep *Report, plan []string, want int, pos *progress) error {
	for i, unit := range plan {
		if stop.Err() != nil {
			r.log().Warn("rollout interrupted", "next", unit)
			return fmt.Errorf("%w before %s (%d of %d steps done); run the reload again to complete it", ErrInterrupted, unit, pos.done, pos.total)
		}
		u, err := r.o.Systemd.Unit(ctx, unit)
		if err != nil {
			return err
		}
		action := ActionStop // beyond the configured count
		if i < want {
			action = ActionStart
			if u.Running() {
				action = ActionRestart
			}
		}
		hold := r.o.Hold
		if action != ActionStop && !rep.Surge && len(rep.ready) == 0 {
			hold = max(hold, r.o.CanaryHold) // the first of the new release
		}
		step, err := r.step(ctx, rep, Step{Unit: unit, Action: action, OldPID: u.MainPID}, pos.next(), pos.total, hold)
		rep.Steps = append(rep.Steps, step)
		if err != nil {
			rep.Failure = r.failure(ctx, unit, err)
			err = fmt.Errorf("%s %s: %w: %w", action, unit, err, ErrRolloutFailed)
			if r.o.InstanceListen != nil && action != ActionStop {
				rep.Failure.Socket = r.o.Cluster.SocketOf(unit)
				serr := r.stopUnits(ctx, rep.Failure.Socket, unit)
				rep.Failure.SocketStopped = serr == nil
				if serr != nil {
					err = errors.Join(err, serr)
				}
			}
			return err
		}
	}
	r.log().Info("instances rolled", "instances", want, "took", time.Since(rep.Started))
	return nil
}

// surgeWanted decides whether this rollout starts a spare, and if not
// although it was asked for, why.
func (r *Reloader) surgeWanted(ctx context.Context, regular []string) (bool, string, error) {
	if r.o.Surge == "" || r.o.Surge == units.SurgeOff {
		return false, "", nil
	}
	if r.o.InstanceListen != nil {
		return false, `socket = "reuseport": a spare's own socket would reset the connections queued on it when it closes`, nil
	}
	var biggest uint64
	replacing := 0
	for _, name := range regular {
		u, err := r.o.Systemd.Unit(ctx, name)
		if err != nil {
			return false, "", err
		}
		if u.Running() {
			replacing++
			// Only the control group's use counts: a main process's
			// resident memory leaves out its children and page cache,
			// so without accounting the limit is the estimate.
			if u.Accounting != AccountingProcess {
				biggest = max(biggest, u.Memory)
			}
		}
	}
	switch {
	case replacing == 0:
		return false, "no running instance to replace", nil
	case r.o.Surge == units.SurgeOn:
		return true, "", nil
	}
	need := biggest
	if need == 0 {
		need = r.o.MemoryLimit
	}
	if need == 0 {
		return true, "", nil
	}
	have, err := r.memAvailable()
	if err != nil {
		return false, fmt.Sprintf("surge \"auto\": cannot tell whether one more instance fits: %v", err), nil
	}
	if have < need {
		return false, fmt.Sprintf("surge \"auto\": %s of memory available, one more instance may need %s", Size(have), Size(need)), nil
	}
	return true, "", nil
}

// numbers maps the instance number of each loaded unit that is one of the
// cluster's numbered instances (app@N.service) to its name.
func (r *Reloader) numbers(loaded []string) map[int]string {
	out := map[int]string{}
	for _, u := range loaded {
		if n, ok := r.o.Cluster.InstanceNumber(u); ok {
			out[n] = u
		}
	}
	return out
}

// beyond lists the loaded instances numbered want or above, in order.
func (r *Reloader) beyond(loaded []string, want int) []string {
	var names []string
	for _, n := range sortedKeys(r.numbers(loaded)) {
		if n >= want {
			names = append(names, r.o.Cluster.Instance(n))
		}
	}
	return names
}

func sortedKeys(m map[int]string) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// step does one planned step and reports it as it begins and ends. A start
// or restart must come back ready with a new main process, then pass the
// hold; a stop must finish its job.
func (r *Reloader) step(ctx context.Context, rep *Report, step Step, idx, total int, hold time.Duration) (Step, error) {
	r.emit(Event{Step: step, Index: idx, Total: total})
	begun := step
	begun.InProgress = true
	r.checkpoint(*rep, begun)
	start := time.Now()
	var err error
	if step.Action == ActionStop {
		stops := []string{step.Unit}
		if r.o.InstanceListen != nil && step.Unit != r.o.Cluster.Spare() {
			stops = []string{r.o.Cluster.SocketOf(step.Unit), step.Unit}
		}
		err = r.stopUnits(ctx, stops...)
	} else {
		var ready Unit
		ready, err = r.rollOne(ctx, &step)
		step.Ready = time.Since(start)
		if err == nil && hold > 0 {
			err = r.hold(ctx, ready, hold)
		}
		if err == nil && r.o.Probe != nil {
			err = r.o.Probe.Check(ctx, step.Unit)
		}
		if err == nil {
			if rep.ready == nil {
				rep.ready = map[string]Unit{}
			}
			rep.ready[step.Unit] = ready
		}
	}
	step.Took = time.Since(start)
	if err != nil {
		step.Error = err.Error()
	}
	r.emit(Event{Step: step, Done: true, Index: idx, Total: total})
	r.checkpoint(*rep, step)
	return step, err
}

// begin is the report of a rollout as it begins, saved before anything is
// touched.
func (r *Reloader) begin(want int, scale bool) Report {
	rep := Report{App: r.o.Cluster.AppName(), Started: time.Now(), Instances: want, Scale: scale, Running: true, Process: proc.This()}
	if r.o.Checkpoint != nil {
		r.o.Checkpoint(rep)
	}
	return rep
}

// checkpoint saves the report with step, begun or done (the caller
// appends it to the report it returns once it is done).
func (r *Reloader) checkpoint(rep Report, step Step) {
	if r.o.Checkpoint == nil {
		return
	}
	rep.Steps = append(append([]Step(nil), rep.Steps...), step)
	r.o.Checkpoint(rep)
}

// ErrDiedAfterReady is wrapped by the error of a rollout whose started
// instance (the spare included) died, restarted or stopped after it was
// ready, before the rollout ended.
var ErrDiedAfterReady = errors.New("died after it was ready")

// verify checks, as a rollout ends, that every instance it started (the
// spare included) still runs the process it was ready with: still active,
// same main PID, no restart since. A release whose workers die a while
// after READY=1 is a failed rollout, even when each instance passed its
// own checks in turn.
func (r *Reloader) verify(ctx context.Context, rep *Report) error {
	var names []string
	for name := range rep.ready {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		was := rep.ready[name]
		u, err := r.o.Systemd.Unit(ctx, name)
		if err != nil {
			return err
		}
		if u.ActiveState == "active" && u.MainPID == was.MainPID && u.NRestarts == was.NRestarts {
			continue
		}
		why := fmt.Errorf("%w (pid %d) and before the rollout ended: now %s/%s, pid %d, %d restarts since%s",
			ErrDiedAfterReady, was.MainPID, u.ActiveState, u.SubState, u.MainPID, u.NRestarts-was.NRestarts, describe(u))
		rep.Failure = r.failure(ctx, name, why)
		return fmt.Errorf("%s: %w: %w", name, why, ErrRolloutFailed)
	}
	return nil
}

// stopUnits stops units in turn, each job waited for. With socket =
// "reuseport" an instance is stopped as [its socket, itself]: stopping
// the socket stops the instance in the same job (it Requires= the
// socket), and it is never triggered again meanwhile; connections still
// queued on that socket when it closes are reset. When several units are
// stopped, an error names the one that failed.
func (r *Reloader) stopUnits(ctx context.Context, units ...string) error {
	for _, name := range units {
		result, err := r.o.Systemd.Stop(ctx, name)
		if err == nil && result != "done" {
			err = fmt.Errorf("job %s", result)
		}
		if err != nil && len(units) > 1 {
			return fmt.Errorf("stop %s: %w", name, err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rollOne starts or restarts an instance and returns its state once the
// job is done and it is active with a new main process.
func (r *Reloader) rollOne(ctx context.Context, step *Step) (Unit, error) {
	sd := r.o.Systemd
	// A deliberate restart must not count towards the crash-loop limit,
	// and an instance stopped by that limit must be startable again.
	if err := sd.ResetFailed(ctx, step.Unit); err != nil {
		return Unit{}, err
	}
	if r.o.GuardDir != "" {
		if err := ClearGuard(r.o.GuardDir, step.Unit); err != nil {
			return Unit{}, err
		}
	}
	var result string
	var err error
	restart := step.Action == ActionRestart || (step.Action == ActionSurge && step.OldPID != 0)
	if restart {
		result, err = sd.Restart(ctx, step.Unit)
	} else {
		result, err = sd.Start(ctx, step.Unit)
	}
	if err != nil {
		return Unit{}, err
	}
	u, err := sd.Unit(ctx, step.Unit)
	if err != nil {
		return Unit{}, err
	}
	step.NewPID = u.MainPID
	if result != "done" {
		return u, fmt.Errorf("job %s%s", result, describe(u))
	}
	switch {
	case u.ActiveState != "active":
		return u, fmt.Errorf("not active after the %s but %s/%s%s", step.Action, u.ActiveState, u.SubState, describe(u))
	case u.MainPID == 0:
		return u, errors.New("active but has no main process")
	case restart && u.MainPID == step.OldPID:
		return u, fmt.Errorf("main PID %d did not change", u.MainPID)
	}
	return u, nil
}

// hold watches an instance for d from the state it was ready in: it
// must stay active with the same main PID and restart count. Any restart
// changes both, so polling cannot miss one.
func (r *Reloader) hold(ctx context.Context, ready Unit, d time.Duration) error {
	poll := r.o.HoldPoll
	end := time.Now().Add(d)
	for {
		u, err := r.o.Systemd.Unit(ctx, ready.Name)
		if err != nil {
			return err
		}
		if u.ActiveState != "active" || u.MainPID != ready.MainPID || u.NRestarts != ready.NRestarts {
			return fmt.Errorf("died during the %s hold after READY=1: now %s/%s, pid %d, %d restarts%s",
				d, u.ActiveState, u.SubState, u.MainPID, u.NRestarts, describe(u))
		}
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hold: %w", ctx.Err())
		case <-time.After(min(poll, left)):
		}
	}
}

// describe adds what systemd knows of why a unit is not running.
func describe(u Unit) string {
	if u.Result == "" || u.Result == "success" {
		return ""
	}
	if u.Result == "exit-code" {
		return fmt.Sprintf(" (result %s, exit status %d)", u.Result, u.ExitCode)
	}
	return fmt.Sprintf(" (result %s)", u.Result)
}

func (r *Reloader) failure(ctx context.Context, unit string, err error) *Failure {
	f := &Failure{Unit: unit, Reason: err.Error()}
	lines := r.failedLines(ctx, unit)
	f.Diagnosis = Diagnose(lines, f.Reason, r.o.Owner)
	if len(lines) > JournalLines {
		lines = lines[len(lines)-JournalLines:]
	}
	f.Journal = lines
	r.log().Error("rollout halted", "unit", unit, "reason", f.Reason, "cause", f.Cause)
	return f
}

// diagnosisLines is how many of a failed instance's last log lines are read
// for its [Diagnosis]: a stack trace's message may be well above its end.
const diagnosisLines = 60

// failedLines reads the failed instance's last log lines, once the
// journal has what the service manager logged of the failure: the job's
// result comes over D-Bus before the journal has flushed the process's
// last words (measured: the lines of the failed start were missing).
func (r *Reloader) failedLines(ctx context.Context, unit string) []string {
	var lines []string
	for try := 0; try < 10; try++ {
		var err error
		lines, err = r.o.Systemd.Journal(ctx, unit, diagnosisLines)
		if err != nil {
			r.log().Warn("could not read the journal", "unit", unit, "err", err)
			return nil
		}
		if len(lines) > 0 {
			if msg, manager := message(lines[len(lines)-1]); manager && (strings.Contains(msg, "Failed") || strings.Contains(msg, "Skipped") || strings.Contains(msg, "Deactivated") || strings.Contains(msg, "Stopped")) {
				break
			}
		}
		select {
		case <-ctx.Done():
			return lines
		case <-time.After(100 * time.Millisecond):
		}
	}
	return lines
}

func (r *Reloader) emit(e Event) {
	if r.o.Progress != nil {
		r.o.Progress(e)
	}
}
