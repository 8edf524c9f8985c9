// Package sdbus is the reloader's way to systemd: [reloader.Systemd] over
// a D-Bus connection (go-systemd, godbus) to this machine's service
// manager, or to another's over any stream (ssh and
// systemd-stdio-bridge, see package fleet). Jobs are waited for with a
// bound taken from the unit's own timeouts, a dropped connection ends the
// wait at once, and the next call connects again.
package sdbus
