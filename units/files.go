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
)

// UnitDir is where the package installs the unit files.
const UnitDir = "/lib/systemd/system"

// Instance is the unit name of instance i, "app@i.service".
func Instance(i int) string { return "app@" + strconv.Itoa(i) + ".service" }
