// Package reloader rolls a new release over the cluster's instances and
// reports their state, talking to systemd over D-Bus.
//
// A rolling reload ([Reloader.Reload]) applies the configuration
// (daemon-reload, which reruns app-generator), starts instances that should
// run and do not, restarts the running ones one at a time, and stops those
// beyond the configured count. It moves on from an instance only when its
// restart job finished (for Type=notify units, after the new process sent
// READY=1) and the unit is active with a new main PID. The first failure
// halts the rollout: the instances not yet restarted keep their old
// process, and the error names the instance, the reason and the last
// journal lines. Only one rollout runs at a time ([Lock]).
//
// With surge ([Reloader.Surge]) the rollout first starts a spare instance
// of the new release (app@spare) and restarts the others only once it is
// ready, so the configured capacity holds throughout and a release that
// cannot become ready is caught before any instance is touched. The spare
// is bound (BindsTo=) to a transient scope holding a process that dies with
// the reloader ([Systemd.Tether]): systemd stops the spare if the reloader
// is killed, and refuses to start it outside a rollout. Readiness can also
// require an HTTP answer through the instance's own probe socket ([Probe]).
//
// A rollout runs as root. Someone else, a member of [DeployGroup], gets one
// through [Delegate]: systemd reloads [ReloadUnit], whose ExecReload= runs
// the rollout as root, because the package's polkit rule allows exactly
// that; the caller waits for the job and reads the rollout's report.
//
// The engine depends on [Systemd], a narrow interface over the D-Bus
// connection ([DBus] is the real one), so its logic has fast unit tests;
// the e2e tests run it against a real systemd.
package reloader
