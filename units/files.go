package units

import (
	"embed"
	"fmt"
	"strconv"
	"strings"
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

// Cluster names the units of one cluster, one app; the package ships one,
// [App], and each file in [AppsDir] adds another ([AppCluster]). Every
// name the reloader and the command line use comes from here.
type Cluster struct {
	// Name is the units' prefix: "app" for app.socket, app@0.service, …;
	// "app-api" for the app in apps.d/api.toml.
	Name string
	// App is the app's name, as commands take it: "app" for the package's
	// own, "api" for apps.d/api.toml.
	App string
}

// App is the cluster the package ships: app.socket, app@.service,
// app.target, app-reload.service, configured by /etc/app/app.toml.
var App = Cluster{Name: "app", App: "app"}

// Socket is the cluster's shared listening socket, app.socket.
func (c Cluster) Socket() string { return c.Name + ".socket" }

// Target is the unit that wants every instance, app.target.
func (c Cluster) Target() string { return c.Name + ".target" }

// ReloadUnit is the unit whose reload runs a rollout as root,
// app-reload.service.
func (c Cluster) ReloadUnit() string { return c.Name + "-reload.service" }

// Template is the instances' template, app@.service.
func (c Cluster) Template() string { return c.Name + "@.service" }

// Instance is the unit of instance i, app@i.service.
func (c Cluster) Instance(i int) string { return c.Name + "@" + strconv.Itoa(i) + ".service" }

// Spare is the extra instance a rollout starts first, app@spare.service.
func (c Cluster) Spare() string { return c.Name + "@spare.service" }

// RolloutScope is the transient unit the spare is bound to,
// app-rollout.scope.
func (c Cluster) RolloutScope() string { return c.Name + "-rollout.scope" }

// InstanceSocketTemplate is each instance's own socket with socket =
// "reuseport", app@.socket.
func (c Cluster) InstanceSocketTemplate() string { return c.Name + "@.socket" }

// Instances is the glob of every instance unit, app@*.service.
func (c Cluster) Instances() string { return c.Name + "@*.service" }

// InstanceSockets is the glob of the instances' own sockets, app@*.socket.
func (c Cluster) InstanceSockets() string { return c.Name + "@*.socket" }

// SocketOf is an instance's own socket (socket = "reuseport"):
// app@N.socket for app@N.service.
func (c Cluster) SocketOf(instance string) string {
	return strings.TrimSuffix(instance, ".service") + ".socket"
}

// InstanceNumber is N of app@N.service, when unit is one of the
// cluster's numbered instances.
func (c Cluster) InstanceNumber(unit string) (int, bool) {
	n, ok := strings.CutPrefix(unit, c.Name+"@")
	if !ok {
		return 0, false
	}
	n, ok = strings.CutSuffix(n, ".service")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" || len(n) > 1 && n[0] == '0' {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

// InstanceUnit reads an instance as a person names it: 0, app@0,
// app@0.service or spare.
func (c Cluster) InstanceUnit(arg string) (string, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(arg, c.Name+"@"), ".service")
	if name == "spare" {
		return c.Spare(), nil
	}
	if name == "" || strings.Trim(name, "0123456789") != "" || len(name) > 1 && name[0] == '0' {
		return "", fmt.Errorf("instance %q: want its number (0), %s@0 or %s@0.service", arg, c.Name, c.Name)
	}
	return c.Name + "@" + name + ".service", nil
}
