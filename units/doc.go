// Package units holds the cluster's unit files and turns /etc/app/app.toml
// into unit settings.
//
// The unit files (app.socket, app@.service, app.target, app-reload.service)
// are embedded in [Files] and shipped by the package. The configuration is
// applied by a systemd generator (cmd/app-generator): at boot and on every
// daemon-reload, systemd runs it, and [Generate] writes drop-ins that set the
// listen addresses, the worker command, environment, timeouts and memory
// limit, and one app.target.wants/app@N.service link per instance.
//
// A configuration file uses the names a pm2 user knows:
//
//	instances          = "auto"               # or a number; "auto" (0, "max") = one per CPU, at least 2
//	listen             = ["127.0.0.1:8080"]   # ListenStream= of app.socket
//	script             = "/usr/bin/app"       # the worker: takes fd 3, sends READY=1
//	args               = []
//	cwd                = "/"                  # WorkingDirectory=
//	listen_timeout     = "30s"                # start (ready) timeout; a number is milliseconds, as in pm2
//	kill_timeout       = "30s"                # stop (drain) timeout
//	max_memory_restart = "512M"               # MemoryMax=
//	max_restarts       = 5                    # within a minute; then the crash-loop guard keeps it down
//	min_uptime         = "5s"                 # a restarted instance must stay up this long before the rollout moves on
//	canary_uptime      = "2s"                 # the first instance of a new release (the spare) stays up this long first
//	surge              = "auto"               # start a spare of the new release first (true, false, "auto")
//	probe_path         = "/healthz"           # HTTP probe through each instance's own socket; "" for none
//	probe_timeout      = "10s"                # how long the probe may take to pass
//	socket             = "shared"             # or "reuseport": one SO_REUSEPORT socket per instance
//
//	[env]
//	NODE_ENV = "production"
//
// [Load] refuses unknown keys and bad values with the file, the line and
// the reason, before anything is touched.
package units
