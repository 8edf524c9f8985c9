package activation

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dupListener is a second listener on the same socket, as another
// process holding the socket systemd passed would have.
func dupListener(t *testing.T, l net.Listener) net.Listener {
	t.Helper()
	rc, err := l.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	var fd int
	require.NoError(t, rc.Control(func(s uintptr) {
		fd, err = syscall.Dup(int(s))
	}))
	require.NoError(t, err)
	f := os.NewFile(uintptr(fd), "dup")
	defer f.Close()
	d, err := net.FileListener(f)
	require.NoError(t, err)
	return d
}

// Two fair listeners on one socket (each with its own epoll set, like two
// processes) take the connections in turn, and serve them.
func TestFairTakesTurns(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	second := dupListener(t, l)
	var fls []net.Listener
	for _, x := range []net.Listener{l, second} {
		fl, err := Fair(x)
		require.NoError(t, err)
		fls = append(fls, fl)
	}
	assert.Equal(t, addr, fls[0].Addr().String())

	counts := make([]int, 2)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, fl := range fls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := fl.Accept()
				if err != nil {
					assert.ErrorIs(t, err, net.ErrClosed)
					return
				}
				mu.Lock()
				counts[i]++
				mu.Unlock()
				_, _ = c.Write([]byte("hi"))
				c.Close()
			}
		}()
	}
	const n = 400
	for range n {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		b, err := io.ReadAll(c)
		require.NoError(t, err)
		assert.Equal(t, "hi", string(b), "an accepted connection works")
		c.Close()
	}
	for _, fl := range fls {
		require.NoError(t, fl.Close())
	}
	wg.Wait()
	t.Logf("connections taken: %v", counts)
	assert.Equal(t, n, counts[0]+counts[1])
	// One at a time, each taken by the listener that waited longest: in
	// turn. Go's own Accept gives whichever goroutine runs first.
	assert.InDelta(t, n/2, counts[0], n/10, "taken in turn: %v", counts)
}

func TestFairCloseWakesAccept(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fl, err := Fair(l)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := fl.Accept()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, fl.Close())
	select {
	case err := <-done:
		assert.True(t, errors.Is(err, net.ErrClosed), "got %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a pending Accept")
	}
	_, err = fl.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.NoError(t, fl.Close(), "closing twice is harmless")
}

func TestFairRefusesWhatHasNoDescriptor(t *testing.T) {
	_, err := Fair(fakeListener{})
	assert.ErrorContains(t, err, "has no descriptor")
}

type fakeListener struct{}

func (fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (fakeListener) Close() error              { return nil }
func (fakeListener) Addr() net.Addr            { return &net.TCPAddr{} }
