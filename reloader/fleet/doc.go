// Package fleet rolls the cluster on other machines, one or a few at a
// time, reached over ssh: each machine's systemd through
// systemd-stdio-bridge (as `systemctl -H` reaches it), its journal and
// files through plain commands. Each machine rolls its own instances with
// its own configuration, as it would by itself; the first machine that
// fails stops the fleet's rollout.
package fleet
