package sdbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"example.com/app/reloader"
	"example.com/app/reloader/journal"
	"example.com/app/reloader/proc"
)

// DBus is [reloader.Systemd] over a D-Bus connection to the system manager.
//
// A connection can drop under a rollout: systemd re-executes (a systemd
// upgrade does), or the bus daemon restarts. go-systemd then never
// completes the jobs it was waiting for, so every wait here also ends when
// the connection closes ([ErrBusClosed]) or after a bound taken from the
// unit's own timeouts ([ErrJobTimeout]), and the next call connects again.
type DBus struct {
	dial func() (*sd.Conn, *dbus.Conn, <-chan struct{}, error)
	mu   sync.Mutex
	conn *sd.Conn
	// bus is conn's connection for calls, for the ones go-systemd has no
	// method for.
	bus *dbus.Conn
	// closed is closed when either of conn's two D-Bus connections is.
	closed <-chan struct{}
	// remote: another machine's systemd (see [ConnectRemote]); its PIDs
	// are not this machine's.
	remote bool
	// journal reads the machine's journal.
	journal journal.Reader
}

// ErrBusClosed is wrapped by the error of a wait that ended because the
// connection to systemd closed.
var ErrBusClosed = errors.New("lost the connection to systemd")

// ErrJobTimeout is wrapped by the error of a job with no result within
// its unit's own timeouts and a margin.
var ErrJobTimeout = errors.New("no result from systemd in time")

// CallTimeout bounds each call to systemd that is not a job.
const CallTimeout = 2 * time.Minute

// Connect connects to this machine's systemd: as root over its private
// socket, as systemctl does (a restart of the bus daemon, as an upgrade
// of dbus does, does not touch it); otherwise, or when that fails, over
// the system bus. The connection outlives ctx: go-systemd closes a
// connection when the context it was made with ends, and an interrupted
// rollout still needs the bus to finish the instance in progress.
func Connect(ctx context.Context) (*DBus, error) {
	ctx = context.WithoutCancel(ctx)
	return connect(func() (*dbus.Conn, error) { return dialLocal(ctx) })
}

// ConnectRemote connects to another machine's systemd: dialBus opens one
// authenticated D-Bus connection to it (over ssh, say), and is called
// once for each of go-systemd's two connections, and again to reconnect;
// j reads that machine's journal.
func ConnectRemote(dialBus func() (*dbus.Conn, error), j journal.Reader) (*DBus, error) {
	d, err := connect(dialBus)
	if err != nil {
		return nil, err
	}
	d.remote, d.journal = true, j
	return d, nil
}

// connect makes a DBus whose connections come from dialBus, called once
// for each of go-systemd's two connections, and again to reconnect.
func connect(dialBus func() (*dbus.Conn, error)) (*DBus, error) {
	d := &DBus{dial: func() (*sd.Conn, *dbus.Conn, <-chan struct{}, error) {
		var buses []*dbus.Conn
		c, err := sd.NewConnection(func() (*dbus.Conn, error) {
			b, err := dialBus()
			if err == nil {
				buses = append(buses, b)
			}
			return b, err
		})
		if err != nil {
			return nil, nil, nil, err
		}
		closed := make(chan struct{})
		go func() {
			select {
			case <-buses[0].Context().Done():
			case <-buses[len(buses)-1].Context().Done():
			}
			close(closed)
		}()
		// go-systemd dials its connection for calls first.
		return c, buses[0], closed, nil
	}}
	var err error
	if d.conn, d.bus, d.closed, err = d.dial(); err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus: %w", err)
	}
	return d, nil
}

// dialLocal opens one authenticated connection to this machine's systemd.
func dialLocal(ctx context.Context) (*dbus.Conn, error) {
	auth := []dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}
	var errs []error
	if os.Geteuid() == 0 {
		c, err := dbus.Dial("unix:path=/run/systemd/private", dbus.WithContext(ctx))
		if err == nil {
			if err = c.Auth(auth); err == nil {
				return c, nil // no Hello: there is no bus daemon
			}
			c.Close()
		}
		errs = append(errs, fmt.Errorf("/run/systemd/private: %w", err))
	}
	c, err := dbus.SystemBusPrivate(dbus.WithContext(ctx))
	if err == nil {
		if err = c.Auth(auth); err == nil {
			if err = c.Hello(); err == nil {
				return c, nil
			}
		}
		c.Close()
	}
	return nil, errors.Join(append(errs, fmt.Errorf("system bus: %w", err))...)
}

// current is the connection to use, its connection for calls (for
// [DBus.props]) and its closed channel: the one in use, or a new one when
// it has closed.
func (d *DBus) current() (*sd.Conn, *dbus.Conn, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closed:
		if c, bus, closed, err := d.dial(); err == nil {
			d.conn.Close()
			d.conn, d.bus, d.closed = c, bus, closed
		}
	default:
	}
	return d.conn, d.bus, d.closed
}

// c is the connection to use.
func (d *DBus) c() *sd.Conn {
	c, _, _ := d.current()
	return c
}

// Close closes the connection.
func (d *DBus) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn.Close()
}

// call bounds a call to systemd that is not a job by CallTimeout.
func call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, CallTimeout)
}

// DaemonReload implements [reloader.Systemd].
func (d *DBus) DaemonReload(ctx context.Context) error {
	ctx, cancel := call(ctx)
	defer cancel()
	if err := d.c().ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// jobFunc enqueues a job on a connection, as go-systemd's *UnitContext
// methods do.
type jobFunc func(c *sd.Conn, ctx context.Context, name, mode string, ch chan<- string) (int, error)

// job enqueues a job for unit and waits for its result: at most until
// the connection closes ([ErrBusClosed]) or bound passes ([ErrJobTimeout]).
func (d *DBus) job(ctx context.Context, verb string, f jobFunc, unit string, bound time.Duration) (string, error) {
	conn, _, closed := d.current()
	ch := make(chan string, 1)
	enqueue, cancel := call(ctx)
	_, err := f(conn, enqueue, unit, "replace", ch)
	cancel()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s %s: waiting for the job: %w", verb, unit, ctx.Err())
	case <-closed:
		return "", fmt.Errorf("%s %s: %w while waiting for the job (did systemd re-execute, or the bus restart?); systemd goes on with the job", verb, unit, ErrBusClosed)
	case <-timer.C:
		return "", fmt.Errorf("%s %s: %w: none after %s (the unit's start and stop timeouts, and a margin)", verb, unit, ErrJobTimeout, bound)
	}
}

// Job bounds: what a unit's own timeouts allow a job to take, and a
// margin; DefaultJobBound where systemd says nothing (a scope, a socket)
// and MaxJobBound for a unit without timeouts.
const (
	jobMargin       = 30 * time.Second
	DefaultJobBound = 90*time.Second + jobMargin
	MaxJobBound     = 24 * time.Hour
)

// bound is how long a job of verb on unit may take: a stop may take the
// stop timeout for SIGTERM, as long again after SIGKILL, and as long for
// ExecStopPost=; a start the start timeout, and a failed one the stop
// timeout for ExecStopPost=; a restart both; a reload (ExecReload=) the
// start timeout.
func (d *DBus) bound(ctx context.Context, verb, unit string) time.Duration {
	if !strings.HasSuffix(unit, ".service") {
		return DefaultJobBound
	}
	sp, err := d.props(ctx, unit, ifaceService, "TimeoutStartUSec", "TimeoutStopUSec")
	if err != nil {
		return DefaultJobBound
	}
	start, stop := usec(sp["TimeoutStartUSec"]), usec(sp["TimeoutStopUSec"])
	if start == 0 || stop == 0 {
		return MaxJobBound // infinity
	}
	switch verb {
	case "stop":
		return min(3*stop+jobMargin, MaxJobBound)
	case "start":
		return min(start+stop+jobMargin, MaxJobBound)
	case "reload":
		return min(start+jobMargin, MaxJobBound)
	}
	return min(start+3*stop+jobMargin, MaxJobBound)
}

// Start implements [reloader.Systemd].
func (d *DBus) Start(ctx context.Context, unit string) (string, error) {
	return d.job(ctx, "start", (*sd.Conn).StartUnitContext, unit, d.bound(ctx, "start", unit))
}

// Restart implements [reloader.Systemd].
func (d *DBus) Restart(ctx context.Context, unit string) (string, error) {
	return d.job(ctx, "restart", (*sd.Conn).RestartUnitContext, unit, d.bound(ctx, "restart", unit))
}

// Stop implements [reloader.Systemd].
func (d *DBus) Stop(ctx context.Context, unit string) (string, error) {
	return d.job(ctx, "stop", (*sd.Conn).StopUnitContext, unit, d.bound(ctx, "stop", unit))
}

// StopAlone enqueues a stop job for unit alone, ignoring its dependencies
// (job mode ignore-dependencies), and returns without waiting for it: for
// a caller that runs inside the start job of a unit that requires it,
// which a normal stop would cancel.
func (d *DBus) StopAlone(ctx context.Context, unit string) error {
	ctx, cancel := call(ctx)
	defer cancel()
	if _, err := d.c().StopUnitContext(ctx, unit, "ignore-dependencies", nil); err != nil {
		return fmt.Errorf("stop %s: %w", unit, err)
	}
	return nil
}

// ResetFailed implements [reloader.Systemd].
func (d *DBus) ResetFailed(ctx context.Context, unit string) error {
	ctx, cancel := call(ctx)
	defer cancel()
	if err := d.c().ResetFailedUnitContext(ctx, unit); err != nil {
		var derr dbus.Error
		if errors.As(err, &derr) && derr.Name == "org.freedesktop.systemd1.NoSuchUnit" {
			return nil // not loaded: nothing to reset
		}
		return fmt.Errorf("reset-failed %s: %w", unit, err)
	}
	return nil
}

// Unit implements [reloader.Systemd].
func (d *DBus) Unit(ctx context.Context, unit string) (reloader.Unit, error) {
	up, err := d.props(ctx, unit, ifaceUnit, unitProps...)
	if err != nil {
		return reloader.Unit{}, err
	}
	var tp map[string]any
	switch {
	case strings.HasSuffix(unit, ".socket"):
		tp, err = d.props(ctx, unit, ifaceSocket, socketProps...)
	case strings.HasSuffix(unit, ".service"):
		tp, err = d.props(ctx, unit, ifaceService, serviceProps...)
	}
	if err != nil {
		return reloader.Unit{}, err
	}
	return d.unitOf(unit, up, tp), nil
}

// The interfaces of a unit's object, and the properties [DBus.Unit] reads
// of each.
const (
	ifaceUnit    = "org.freedesktop.systemd1.Unit"
	ifaceService = "org.freedesktop.systemd1.Service"
	ifaceSocket  = "org.freedesktop.systemd1.Socket"
)

var (
	unitProps    = []string{"ActiveState", "SubState", "NeedDaemonReload", "ActiveEnterTimestamp"}
	serviceProps = []string{"Result", "MainPID", "NRestarts", "StatusText", "ExecMainStatus", "MemoryCurrent", "CPUUsageNSec"}
	socketProps  = []string{"Listen"}
)

// unitOf is unit as up (its Unit properties) and tp (those of its type:
// Socket or Service, nil for other types) say.
func (d *DBus) unitOf(unit string, up, tp map[string]any) reloader.Unit {
	u := reloader.Unit{
		Name:        unit,
		ActiveState: str(up["ActiveState"]),
		SubState:    str(up["SubState"]),
	}
	u.NeedDaemonReload, _ = up["NeedDaemonReload"].(bool)
	if us, ok := up["ActiveEnterTimestamp"].(uint64); ok && us > 0 {
		u.Since = time.UnixMicro(int64(us))
	}
	if strings.HasSuffix(unit, ".socket") {
		// Listen is a(ss): (type, address) pairs.
		if ls, ok := tp["Listen"].([][]any); ok {
			for _, l := range ls {
				if len(l) == 2 {
					u.Listen = append(u.Listen, str(l[1]))
				}
			}
		}
		return u
	}
	if !strings.HasSuffix(unit, ".service") {
		return u
	}
	u.Result = str(tp["Result"])
	u.MainPID, _ = tp["MainPID"].(uint32)
	u.NRestarts, _ = tp["NRestarts"].(uint32)
	u.StatusText = str(tp["StatusText"])
	u.ExitCode, _ = tp["ExecMainStatus"].(int32)
	// systemd reports "unknown" as the largest uint64.
	if m, ok := tp["MemoryCurrent"].(uint64); ok && m != math.MaxUint64 {
		u.Memory = m
	}
	if c, ok := tp["CPUUsageNSec"].(uint64); ok && c != math.MaxUint64 {
		u.CPU = c
	}
	if (u.CPU == 0 || u.Memory == 0) && u.MainPID != 0 && !d.remote {
		// No accounting from systemd (no cpu or memory controller, as in
		// a container on a cgroup v1 host): the main process's own.
		if cpu, rss, err := proc.Usage(u.MainPID); err == nil {
			if u.CPU == 0 {
				u.CPU, u.Accounting = uint64(cpu), reloader.AccountingProcess
			}
			if u.Memory == 0 {
				u.Memory, u.Accounting = rss, reloader.AccountingProcess
			}
		}
	}
	return u
}

// props reads the named properties of one interface of unit's object: a
// Properties.Get each, all sent before the first answer is read. systemd
// then computes only these; GetAll computes every property of the
// interface, an instance's Service has over two hundred, its cgroup's
// accounting among them, and a rollout reads its units' state a few
// times for each instance. The values are as go-systemd's GetAll gives
// them (the variants' values).
func (d *DBus) props(ctx context.Context, unit, iface string, names ...string) (map[string]any, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	_, bus, _ := d.current()
	obj := bus.Object("org.freedesktop.systemd1", dbus.ObjectPath("/org/freedesktop/systemd1/unit/"+sd.PathBusEscape(unit)))
	calls := make([]*dbus.Call, len(names))
	for i, n := range names {
		calls[i] = obj.GoWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, nil, iface, n)
	}
	out := make(map[string]any, len(names))
	var errs []error
	for i, c := range calls {
		select {
		case <-c.Done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s of %s: %w", names[i], unit, ctx.Err())
		}
		var v dbus.Variant
		if err := c.Store(&v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", names[i], err))
			continue
		}
		out[names[i]] = v.Value()
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("properties of %s: %w", unit, errors.Join(errs...))
	}
	return out, nil
}

// List implements [reloader.Systemd].
func (d *DBus) List(ctx context.Context, pattern string) ([]string, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	us, err := d.c().ListUnitsByPatternsContext(ctx, nil, []string{pattern})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", pattern, err)
	}
	names := make([]string, 0, len(us))
	for _, u := range us {
		names = append(names, u.Name)
	}
	return names, nil
}

// Journal implements [reloader.Systemd]: the machine's own journal,
// this one's or, connected with [ConnectRemote], the other's.
func (d *DBus) Journal(ctx context.Context, unit string, n int) ([]string, error) {
	return d.journal.Tail(ctx, unit, n)
}

// JournalReader reads the journal of the machine this connection is to.
func (d *DBus) JournalReader() journal.Reader { return d.journal }

// Remote reports whether the connection is to another machine's systemd,
// whose PIDs and files are not this machine's.
func (d *DBus) Remote() bool { return d.remote }

// Tether implements [reloader.Systemd]. The scope holds a child process (sleep) that
// the kernel kills when this process dies (PR_SET_PDEATHSIG), however it
// dies: the scope then empties and systemd ends it.
func (d *DBus) Tether(ctx context.Context, scope string) (func(context.Context) error, error) {
	cmd := exec.Command("sleep", "infinity")
	// Its own process group: a Ctrl-C meant for the reloader, which then
	// finishes its step and stops the spare itself, must not end the scope
	// (and the spare) under it.
	cmd.SysProcAttr = tetherAttr()
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		// The death signal follows the thread that forked the child, not
		// the process: keep this thread for as long as the child lives.
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("tether %s: %w", scope, err)
	}
	kill := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	props := []sd.Property{
		sd.PropDescription(fmt.Sprintf("app rollout by app-reloader (pid %d); app@spare runs only while this does", os.Getpid())),
		sd.PropPids(uint32(cmd.Process.Pid)),
	}
	start := func(c *sd.Conn, ctx context.Context, name, mode string, ch chan<- string) (int, error) {
		return c.StartTransientUnitContext(ctx, name, mode, props, ch)
	}
	var result string
	var err error
	for attempt := 1; ; attempt++ {
		result, err = d.job(ctx, "start", start, scope, DefaultJobBound)
		if err == nil || !strings.Contains(err.Error(), "already") || attempt == 20 {
			break
		}
		// The name is taken: by a stale scope (we hold the rollout lock),
		// or by the last rollout's, until systemd garbage-collects it.
		_, _ = d.Stop(ctx, scope)
		_ = d.ResetFailed(ctx, scope)
		time.Sleep(50 * time.Millisecond)
	}
	if err == nil && result != "done" {
		err = fmt.Errorf("start %s: job %s", scope, result)
	}
	if err != nil {
		kill()
		return nil, fmt.Errorf("tether: %w", err)
	}
	return func(ctx context.Context) error {
		defer kill()
		if _, err := d.Stop(ctx, scope); err != nil {
			return fmt.Errorf("untether: %w", err)
		}
		return nil
	}, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Reload implements [reloader.Reloading]: a reload job, waited for.
func (d *DBus) Reload(ctx context.Context, unit string) (string, error) {
	return d.job(ctx, "reload", (*sd.Conn).ReloadUnitContext, unit, d.bound(ctx, "reload", unit))
}

// Wanted counts the instances target wants (app@0 … app@N-1), as the
// machine's own generator made them from its configuration: what a
// caller that cannot read that configuration (another machine's, or one
// only root may read) takes for the configured count.
func (d *DBus) Wanted(ctx context.Context, target string, isInstance func(string) bool) (int, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	p, err := d.c().GetUnitPropertyContext(ctx, target, "Wants")
	if err != nil {
		return 0, fmt.Errorf("properties of %s: %w", target, err)
	}
	var wants []string
	if err := p.Value.Store(&wants); err != nil {
		return 0, fmt.Errorf("%s Wants: %w", target, err)
	}
	n := 0
	for _, w := range wants {
		if isInstance(w) {
			n++
		}
	}
	return n, nil
}
