package units

import (
	"embed"
	"strconv"
)

// Files holds the unit files, under systemd/.
//
//go:embed systemd/*
var Files embed.FS

// Unit names.
const (
	Socket   = "app.socket"
	Template = "app@.service"
	Target   = "app.target"
	Reload   = "app-reload.service"
	// Spare is the extra instance a rollout starts first (surge). It can
	// only run while RolloutScope does: app-reloader holds that scope, and
	// systemd stops the spare when it ends, even if the reloader is killed.
	Spare        = "app@spare.service"
	RolloutScope = "app-rollout.scope"
	// InstanceSocket is each instance's own socket with
	// socket = "reuseport"; app-generator writes it only then.
	InstanceSocket = "app@.socket"
)

// RuntimeDir is the cluster's directory in /run. The instances see none
// of it but their own probe directory.
const RuntimeDir = "/run/app"

// PrivateDir holds what only root may open: the rollout lock, the
// crash-loop guard's records, the unit files' fingerprint.
const PrivateDir = RuntimeDir + "/private"

// ProbeDir holds a directory per instance (0700, the instance's user) with
// its probe socket, APP_PROBE_SOCKET: the worker serves its HTTP there
// too, so one given instance can be asked
// (curl --unix-socket /run/app/probe/0/http.sock http://app/healthz).
const ProbeDir = RuntimeDir + "/probe"

// ProbeSocketName is the name of the probe socket in its directory.
const ProbeSocketName = "http.sock"

// ProbeSocket is the probe socket of an instance ("0", "spare").
func ProbeSocket(instance string) string { return ProbeDir + "/" + instance + "/" + ProbeSocketName }

// UnitDir is where the package installs the unit files.
const UnitDir = "/lib/systemd/system"

// Instance is the unit name of instance i, "app@i.service".
func Instance(i int) string { return "app@" + strconv.Itoa(i) + ".service" }
