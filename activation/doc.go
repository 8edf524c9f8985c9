// Package activation is what a Go worker needs to live under systemd as one
// instance of a socket-activated cluster: the listening sockets systemd
// passed, sd_notify readiness and status, the watchdog keep-alive, and a
// serve-and-drain loop for an *http.Server that loses no accepted request
// when the instance is stopped or restarted.
//
// It is built on go-systemd's activation and daemon packages. Unlike
// go-systemd's Listeners, it never hands back a nil listener: a passed
// descriptor that is not a listening socket is an error naming it.
//
// # Units
//
// systemd owns the socket; every instance of the template receives the same
// listening socket as fd 3, and the kernel hands each new connection to one
// of them. A minimal pair of units:
//
//	# app.socket
//	[Socket]
//	ListenStream=127.0.0.1:8080
//	Backlog=4096
//
//	[Install]
//	WantedBy=sockets.target
//
//	# app@.service
//	[Unit]
//	Requires=app.socket
//	After=app.socket
//
//	[Service]
//	Type=notify
//	NotifyAccess=main
//	Sockets=app.socket
//	NonBlocking=yes
//	ExecStart=/usr/bin/app
//	Environment=APP_INSTANCE=%i
//	TimeoutStopSec=30s
//	KillMode=mixed
//
// NonBlocking=yes matters: the instances share one open file description
// of the socket, and systemd otherwise clears O_NONBLOCK on it whenever it
// starts any instance, leaving the running ones blocked inside accept(2)
// where closing the listener cannot wake them.
//
// With Type=notify, systemd considers an instance started only once it sent
// READY=1, which [Server.Serve] does when every listener is accepting. A
// restart job of such an instance therefore completes only when the new
// process is ready, which is what a rolling restart waits for.
//
// # Taking turns
//
// Instances that share a socket and accept with Go's poller are all woken
// for each connection, and whichever runs first takes it: on a busy
// machine some take a larger share. [Fair] wraps a listener so that the
// instances take connections in turn (EPOLLEXCLUSIVE, re-armed after each
// accept); the reference worker uses it by default.
//
// # Draining
//
// On SIGTERM (or SIGINT, or when its context ends) [Server.Serve]:
//
//  1. closes its listeners at once, so connections still in the kernel's
//     queue go to sibling instances (the socket itself stays open: systemd
//     and the siblings hold it);
//  2. sends STOPPING=1 and reports draining (health checks should fail);
//  3. for a short lame-duck window answers every request with
//     "Connection: close", so keep-alive clients move to a sibling after
//     their current request instead of racing a close of an idle connection;
//  4. closes idle connections and waits for in-flight requests, up to the
//     drain timeout, and returns nil when all finished.
//
// Outside systemd (NOTIFY_SOCKET and LISTEN_FDS unset) the notifications are
// no-ops and [Listen] falls back to listening on an address, so the same
// binary runs on a laptop with "go run".
package activation
