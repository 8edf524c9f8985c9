package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// epollExclusive is EPOLLEXCLUSIVE (Linux 4.5), which package syscall
// lacks.
const epollExclusive = 1 << 28

// Fair wraps a listening socket that several processes share (the
// socket systemd passes every instance) so that they take its connections
// in turn.
//
// With Go's own Accept every process's poller watches the socket and the
// kernel wakes them all for each connection; whichever runs first takes
// it, so on a busy machine some take more than their share. Fair's Accept
// waits in an epoll set of its own with EPOLLEXCLUSIVE, which has the
// kernel wake one waiting process per connection, the first in the
// socket's wait queue; after each accept it re-registers, which moves this
// process to the back of that queue (nginx's trick). The processes then
// take connections round-robin, and no process wakes for nothing.
//
// Fair takes over l: it keeps its own descriptor of the socket and closes
// l. Accepted connections are ordinary net.Conns. Close wakes a pending
// Accept, which returns net.ErrClosed. It needs no privileges; on a
// listener without a descriptor (not TCP or Unix) it returns an error and
// l stays open.
func Fair(l net.Listener) (net.Listener, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("fair accept on %s: %T has no descriptor", l.Addr(), l)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("fair accept on %s: %w", l.Addr(), err)
	}
	// Our own descriptor, not l.File(): the open file description (and
	// its O_NONBLOCK) is shared with systemd and every instance, and must
	// not be touched.
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = e
			return
		}
		fd = int(r)
	}); err != nil {
		return nil, fmt.Errorf("fair accept on %s: %w", l.Addr(), err)
	}
	if derr != nil {
		return nil, fmt.Errorf("fair accept on %s: dup: %w", l.Addr(), derr)
	}
	f := &fairListener{fd: fd, addr: l.Addr(), ep: -1, wake: [2]int{-1, -1}}
	if err := f.setup(); err != nil {
		f.release()
		return nil, fmt.Errorf("fair accept on %s: %w", l.Addr(), err)
	}
	if err := l.Close(); err != nil {
		f.release()
		return nil, fmt.Errorf("fair accept on %s: close the original: %w", l.Addr(), err)
	}
	return f, nil
}

type fairListener struct {
	fd   int
	addr net.Addr
	ep   int
	wake [2]int // a pipe: Close writes, a pending Accept wakes

	mu     sync.Mutex // held by Accept; Close takes it to release the fds
	closed atomic.Bool
	once   sync.Once
}

func (f *fairListener) setup() error {
	var err error
	if f.ep, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return fmt.Errorf("pipe2: %w", err)
	}
	f.wake = p
	if err := syscall.EpollCtl(f.ep, syscall.EPOLL_CTL_ADD, p[0], &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p[0])}); err != nil {
		return fmt.Errorf("epoll_ctl add the wake pipe: %w", err)
	}
	return f.arm()
}

// arm registers the socket, exclusively: at the back of its wait queue.
func (f *fairListener) arm() error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | epollExclusive, Fd: int32(f.fd)}
	if err := syscall.EpollCtl(f.ep, syscall.EPOLL_CTL_ADD, f.fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl add (EPOLLEXCLUSIVE): %w", err)
	}
	return nil
}

// rearm moves this process to the back of the socket's wait queue.
// EPOLL_CTL_MOD is refused on an exclusive registration: delete and add.
func (f *fairListener) rearm() error {
	if err := syscall.EpollCtl(f.ep, syscall.EPOLL_CTL_DEL, f.fd, nil); err != nil {
		return fmt.Errorf("epoll_ctl del: %w", err)
	}
	return f.arm()
}

func (f *fairListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	events := make([]syscall.EpollEvent, 2)
	for {
		if f.closed.Load() {
			return nil, net.ErrClosed
		}
		n, err := syscall.EpollWait(f.ep, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, f.opError(fmt.Errorf("epoll_wait: %w", err))
		}
		ready := false
		for _, ev := range events[:n] {
			if int(ev.Fd) == f.fd {
				ready = true
			}
		}
		if f.closed.Load() {
			return nil, net.ErrClosed
		}
		if !ready {
			continue
		}
		nfd, _, aerr := syscall.Accept4(f.fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err := f.rearm(); err != nil {
			if nfd >= 0 && aerr == nil {
				syscall.Close(nfd)
			}
			return nil, f.opError(err)
		}
		switch {
		case errors.Is(aerr, syscall.EAGAIN), errors.Is(aerr, syscall.ECONNABORTED), errors.Is(aerr, syscall.EINTR):
			continue // another process took it, or the client left
		case aerr != nil:
			return nil, f.opError(os.NewSyscallError("accept4", aerr))
		}
		file := os.NewFile(uintptr(nfd), "")
		c, err := net.FileConn(file) // dups it into Go's poller
		file.Close()
		if err != nil {
			return nil, f.opError(err)
		}
		return c, nil
	}
}

func (f *fairListener) Close() error {
	f.once.Do(func() {
		f.closed.Store(true)
		if f.wake[1] >= 0 {
			_, _ = syscall.Write(f.wake[1], []byte{1})
		}
		f.mu.Lock() // a pending Accept has returned
		defer f.mu.Unlock()
		f.release()
	})
	return nil
}

func (f *fairListener) release() {
	for _, fd := range []int{f.fd, f.ep, f.wake[0], f.wake[1]} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	f.fd, f.ep, f.wake = -1, -1, [2]int{-1, -1}
}

func (f *fairListener) Addr() net.Addr { return f.addr }

// opError is an accept error as net's own listeners report one.
func (f *fairListener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: f.addr.Network(), Addr: f.addr, Err: err}
}
