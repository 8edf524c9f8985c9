// Package reloader is the rollout engine: it rolls a new release over a
// cluster's instances one at a time and reports their state. It talks to
// systemd only through [Systemd], a narrow interface (package sdbus has the
// real one, over D-Bus), so its logic has fast unit tests; the e2e tests
// run it against a real systemd.
//
// A rollout ([Reloader.Reload]) runs one way: prepare (apply the
// configuration: a daemon-reload, unless nothing changed) → the spare
// (surge: one extra instance of the new release, held canary_uptime) → each
// instance in turn (restart, wait for READY=1, hold, probe) → stop the
// instances beyond the count → check every instance it started is still
// the process it was ready with → stop the spare. The first failure halts
// it: the instances not yet restarted keep their old process, and the
// report names the instance, the reason and its last journal lines.
//
// The rest of the package is what a rollout needs around it: the rollout
// lock ([Lock]), the crash-loop guard's records ([Guard]), the health
// probe through an instance's own socket ([Probe]), the state of the unit
// files ([FileState]), the report kept between rollouts ([SaveReport]) and
// what status reads back ([Status]), and the rollout of someone who is not
// root, through systemd and the package's polkit rule ([Delegate]).
//
// Around the engine, each in a package of its own:
//
//	reloader/cli      app-reloader's command line, one file per command
//	reloader/view     what a person sees: progress, reports, status, top, logs
//	reloader/sdbus    Systemd over D-Bus: jobs bounded, a dropped bus noticed
//	reloader/journal  every read of the journal, by field
//	reloader/fleet    other machines over ssh, one or a few at a time
//	reloader/proc     what /proc says of processes and memory
package reloader
