package sdbus

import "syscall"

// tetherAttr: the tether dies with the process that started it, however
// that process dies (PR_SET_PDEATHSIG), in a process group of its own.
func tetherAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
