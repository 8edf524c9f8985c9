// Package worker is the reference HTTP worker of the cluster: what the
// package installs as /usr/bin/app, and what the tests and benchmarks drive.
//
// Every response carries X-Instance (the systemd instance name, "0" for
// app@0) and X-Version (the build version). Routes:
//
//	GET /            200, a line with instance, version and PID
//	GET /healthz     200 while serving, 503 once draining
//	GET /slow?ms=N   answers after N milliseconds (0 ≤ N ≤ 30000), for drain tests
//	POST /upload     reads the body (at most [MaxBody]: 413 beyond) and says how long it was
//
// [NewHTTPServer] sets the limits on what one client may send and how
// slowly ([ReadHeaderTimeout], [ReadTimeout], [MaxHeaderBytes]), so that
// a hostile or broken client is refused on its own connection.
//
// [Run] waits for an optional start-up delay (to imitate an application's
// warm-up), takes the sockets systemd passed (or listens on a fallback
// address), serves with [activation.Server] and drains on SIGTERM.
package worker
