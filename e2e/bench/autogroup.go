//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// The kernel's autogroup scheduling (CONFIG_SCHED_AUTOGROUP) puts every
// session in a scheduling group of its own and shares the CPUs fairly
// between groups first. systemd starts every service in a session of its
// own, so each instance is a group, and the load generator (in the
// bench's session) is another: on a machine whose CPUs the load generator
// shares, the instances' time is decided group by group. The bench
// measures the throughput and the back-to-back rollouts of each setup
// with autogroup as the machine has it and again with it off (the usual
// setting for servers), and puts the setting back.
const autogroupPath = "/proc/sys/kernel/sched_autogroup_enabled"

// agOff marks a setup measured with autogroup off.
const agOff = ", autogroup off"

// autogroupSetting is the machine's setting, as written in the report.
func autogroupSetting() string {
	b, err := os.ReadFile(autogroupPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "not built into this kernel"
	}
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	if strings.TrimSpace(string(b)) == "0" {
		return "off"
	}
	return "on"
}

// withoutAutogroup runs f with autogroup off and then puts the setting
// back. On a kernel without autogroup it does not call f (the report then
// has no autogroup-off rows).
func withoutAutogroup(f func() error) (err error) {
	old, err := os.ReadFile(autogroupPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", autogroupPath, err)
	}
	if err := os.WriteFile(autogroupPath, []byte("0\n"), 0o644); err != nil {
		return fmt.Errorf("autogroup off: %w", err)
	}
	defer func() {
		if werr := os.WriteFile(autogroupPath, old, 0o644); werr != nil {
			err = errors.Join(err, fmt.Errorf("put autogroup back to %s: %w", strings.TrimSpace(string(old)), werr))
		}
	}()
	return f()
}
