//go:build !linux

package sdbus

import "syscall"

// tetherAttr: without Linux's PR_SET_PDEATHSIG the tether outlives a
// reloader that is killed; systemd only stops the spare when the scope
// ends. systemd runs on Linux: this builds the package elsewhere, for the
// tools that read its types.
func tetherAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
