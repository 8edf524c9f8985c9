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
// The engine depends on [Systemd], a narrow interface over the D-Bus
// connection ([DBus] is the real one), so its logic has fast unit tests;
// the e2e tests run it against a real systemd.
package reloader
