package steer_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"example.com/app/reloader/steer"
)

// needRoot: bpf(2) and SO_ATTACH_REUSEPORT_EBPF need CAP_BPF (CI runs as
// root, so this never skips there).
func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (bpf(2)); CI runs it")
	}
}

// reusePortListen listens on addr with SO_REUSEPORT, as app@N.socket does
// (plain TCP: Go's listeners are MPTCP by default, which a sockets map
// refuses).
func reusePortListen(t *testing.T, addr string) net.Listener {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		if err != nil {
			return err
		}
		return serr
	}}
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

func rawFD(t *testing.T, l net.Listener) int {
	rc, err := l.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, rc.Control(func(f uintptr) { fd = int(f) }))
	return fd
}

// spread dials n connections to addr and counts which listener took each.
func spread(t *testing.T, addr string, n int, ls ...net.Listener) []int {
	counts := make([]int, len(ls))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				l.(*net.TCPListener).SetDeadline(time.Now().Add(300 * time.Millisecond))
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
				mu.Lock()
				counts[i]++
				mu.Unlock()
			}
		}()
	}
	for range n {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		c.Close()
	}
	wg.Wait()
	return counts
}

// Real sockets, a real program in the kernel: connections go to the ready
// slots only, in turn.
func TestSteering(t *testing.T) {
	needRoot(t)
	a := reusePortListen(t, "127.0.0.1:0")
	addr := a.Addr().String()
	b := reusePortListen(t, addr)
	path := filepath.Join(t.TempDir(), "steer.json")

	s, err := steer.Open(path)
	require.NoError(t, err)
	require.NoError(t, s.In(1, []int{rawFD(t, b)}))
	require.NoError(t, s.In(1, []int{rawFD(t, b)}), "again: an instance restarted on the socket systemd kept")
	assert.ErrorIs(t, s.In(0, []int{rawFD(t, b)}), unix.EBUSY, "a socket is in one slot")
	require.NoError(t, s.Close())
	assert.Equal(t, []int{0, 200}, spread(t, addr, 200, a, b), "only slot 1 is ready")

	s, err = steer.Open(path) // found again through the IDs in the file
	require.NoError(t, err)
	require.NoError(t, s.In(0, []int{rawFD(t, a)}))
	ready, err := s.Ready()
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 0}, ready)
	require.NoError(t, s.Close())
	both := spread(t, addr, 400, a, b)
	t.Logf("both ready: %v", both)
	assert.Equal(t, []int{200, 200}, both, "in turn")

	s, err = steer.Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Out(1))
	require.NoError(t, s.Out(1), "out twice is out")
	require.NoError(t, s.Close())
	assert.Equal(t, []int{200, 0}, spread(t, addr, 200, a, b), "slot 1 taken out")

	s, err = steer.Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Out(0))
	require.NoError(t, s.Close())
	none := spread(t, addr, 200, a, b)
	t.Logf("none ready: %v", none)
	assert.Equal(t, 200, none[0]+none[1], "none ready: the kernel's own hash, over both")
	assert.NotZero(t, none[0])
	assert.NotZero(t, none[1])
}

// SocketsOf finds a forked process's listening SO_REUSEPORT socket, as
// app-reloader steer in finds a worker's, and leaves it non-blocking.
func TestSocketsOf(t *testing.T) {
	needRoot(t)
	l := reusePortListen(t, "127.0.0.1:0")
	plain, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer plain.Close()
	lf, err := l.(*net.TCPListener).File()
	require.NoError(t, err)
	pf, err := plain.(*net.TCPListener).File()
	require.NoError(t, err)

	cmd := exec.Command("sleep", "30")
	cmd.ExtraFiles = []*os.File{lf, pf, lf} // fds 3, 4, 5: the same socket twice
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// Non-blocking, as systemd passes it (NonBlocking=yes); not through
	// Fd, which would make it blocking again.
	rc, err := lf.SyscallConn()
	require.NoError(t, err)
	require.NoError(t, rc.Control(func(fd uintptr) { require.NoError(t, unix.SetNonblock(int(fd), true)) }))
	lf.Close()
	pf.Close()

	fds, err := steer.SocketsOf(cmd.Process.Pid)
	require.NoError(t, err)
	defer steer.CloseAll(fds)
	require.Len(t, fds, 1, "one socket, however many fds; not the plain listener")
	name, err := unix.Getsockname(fds[0])
	require.NoError(t, err)
	assert.Equal(t, l.Addr().(*net.TCPAddr).Port, name.(*unix.SockaddrInet4).Port)
	flags, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFL, 0)
	require.NoError(t, err)
	assert.NotZero(t, flags&unix.O_NONBLOCK, "still non-blocking")

	_, err = steer.SocketsOf(os.Getpid() + 1_000_000)
	assert.Error(t, err)
	self := exec.Command("sleep", "30")
	require.NoError(t, self.Start())
	defer func() { _ = self.Process.Kill(); _ = self.Wait() }()
	_, err = steer.SocketsOf(self.Process.Pid)
	assert.ErrorIs(t, err, steer.ErrNoSocket, "pid "+strconv.Itoa(self.Process.Pid))
}
