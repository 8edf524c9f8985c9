// Package steer sends each new connection of a socket = "reuseport"
// cluster to an instance that is serving, never to one that is restarting.
//
// With SO_REUSEPORT each instance has a listening socket of its own on the
// same address (app@N.socket), and the kernel hashes every new connection
// to one of them. systemd keeps an instance's socket open while the
// instance restarts, so the connections hashed to it wait for the new
// process: a latency spike through every rollout, and resets when the
// socket closes for good (a failed release, a scale-down). Steering fixes
// both with a small eBPF program (BPF_PROG_TYPE_SK_REUSEPORT, attached to
// the sockets' group with SO_ATTACH_REUSEPORT_EBPF) and two maps:
//
//	ready  array: [0] = k, [1..k] = the slots of the instances serving,
//	       [MaxSlots+1] = the turn, a counter of connections
//	socks  REUSEPORT_SOCKARRAY: slot N → app@N's socket (one per address)
//
// The program takes a turn (an atomic fetch-and-add), picks ready[1 + turn
// % k] and selects that slot's socket: the ready instances take new
// connections in turn, as pm2's master deals them out, with no process in
// the way. With k = 0, or a slot with no socket, it lets the kernel choose
// as it would without a program (its hash of the four-tuple). It is attached as
// SELECT_OR_MIGRATE: connections queued on a socket that closes move to a
// ready instance instead of being reset.
//
// app@.service drives it ("+": as root, outside the sandbox):
//
//	ExecStartPost=+/usr/bin/app-reloader steer in %n    # after READY=1
//	ExecStop=+/usr/bin/app-reloader steer out %n        # before SIGTERM
//
// "in" takes the instance's listening sockets from its main process
// (pidfd_getfd(2): systemd hands the socket to the worker, not to the
// commands around it) and adds the slot; "out" removes it, so the old
// process stops getting connections before it is asked to drain. The crash
// loop guard's ExecStopPost= takes out an instance that died. The maps are
// found again through their IDs, kept in a root-only file under /run/app
// with a lock around every change; they live as long as the sockets do.
package steer
