package reloader

import (
	"fmt"
	"net"
	"syscall"
)

// peerPID is the PID of the process at the other end of a Unix socket
// (SO_PEERCRED: the one that listened).
func peerPID(c net.Conn) (int32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%w: not a Unix socket", ErrProbeSocket)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, fmt.Errorf("peer of the probe socket: %w", cerr)
	}
	return cred.Pid, nil
}
