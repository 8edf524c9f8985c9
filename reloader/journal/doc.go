// Package journal reads the journal through journalctl, its own reader,
// here or on another machine (a [Reader] with a Command that runs it over
// ssh). Every read of the journal in app-reloader goes through it: a
// failed instance's last lines, the merged log of the instances (logs),
// and systemd's own record of what happened to a unit (describe, and the
// e2e tests' view of a rollout). Entries are told apart by their fields
// (MESSAGE_ID, UNIT, _PID, PRIORITY), not by the English of their
// messages.
package journal
