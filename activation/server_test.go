package activation_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/activation"
	"example.com/app/activation/statusline"
	"example.com/app/e2e/rawhttp"
)

func dialRaw(t *testing.T, addr string) *rawhttp.Conn {
	t.Helper()
	c, err := rawhttp.Dial(addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// startServer runs s.Serve on a fresh loopback listener. It returns the
// address and stop, which does what SIGTERM does and returns Serve's
// result. The test's cleanup stops it too, so no server outlives its test
// (and notifies into the next test's socket).
func startServer(t *testing.T, s *activation.Server) (addr string, stop func() error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.Listeners = []net.Listener{l}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(15 * time.Second):
				// Close waits for Serve's accept loops too: do not hang on it.
				go s.HTTP.Close()
				result = errors.New("Serve did not return within 15s of the stop")
			}
		})
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return l.Addr().String(), stop
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
}

func TestConnectionCapByRequests(t *testing.T) {
	addr, _ := startServer(t, &activation.Server{HTTP: &http.Server{Handler: okHandler()}, MaxConnRequests: 3})

	rc := dialRaw(t, addr)
	for i := 1; i <= 3; i++ {
		resp, err := rc.Get("/")
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, i == 3, resp.Close, "request %d: Connection: close only on the 3rd", i)
	}
	assert.True(t, rc.ClosedByPeer(), "the server must close the connection after the capped response")
}

func TestConnectionCapByAge(t *testing.T) {
	addr, _ := startServer(t, &activation.Server{HTTP: &http.Server{Handler: okHandler()}, MaxConnAge: 300 * time.Millisecond})

	rc := dialRaw(t, addr)
	resp, err := rc.Get("/")
	require.NoError(t, err)
	assert.False(t, resp.Close, "a young connection stays open")
	time.Sleep(400 * time.Millisecond)
	resp, err = rc.Get("/")
	require.NoError(t, err)
	assert.True(t, resp.Close, "a connection past MaxConnAge is told to close")
	assert.True(t, rc.ClosedByPeer())
}

func TestNoCapByDefault(t *testing.T) {
	addr, _ := startServer(t, &activation.Server{HTTP: &http.Server{Handler: okHandler()}})
	rc := dialRaw(t, addr)
	for i := 0; i < 200; i++ {
		resp, err := rc.Get("/")
		require.NoError(t, err)
		require.False(t, resp.Close, "request %d closed the connection", i)
	}
}

func TestServeNotifiesAndDrains(t *testing.T) {
	path, read := notifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)

	release := make(chan struct{})
	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/", okHandler())
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		fmt.Fprintln(w, "done")
	})
	s := &activation.Server{HTTP: &http.Server{Handler: mux}, Status: "serving v1", LameDuck: 300 * time.Millisecond}
	addr, stop := startServer(t, s)

	msg, err := read(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "READY=1\nSTATUS=serving v1", msg)

	idle := dialRaw(t, addr)
	resp, err := idle.Get("/")
	require.NoError(t, err)
	require.False(t, resp.Close)

	inflight := dialRaw(t, addr)
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := inflight.Get("/block")
		assert.NoError(t, err)
		got <- resp
	}()
	<-started

	result := make(chan error, 1)
	go func() { result <- stop() }()
	msg, err = read(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "STOPPING=1\nSTATUS=draining", msg)
	assert.True(t, s.Draining())

	// The listener is closed at once; new connections are refused here
	// (under systemd they would wait in the queue for a sibling).
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "no new connections once draining")

	// A keep-alive connection used during the lame duck is answered, and told to go.
	resp, err = idle.Get("/")
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.True(t, resp.Close, "responses during the drain carry Connection: close")

	close(release)
	resp = <-got
	assert.Equal(t, 200, resp.StatusCode, "the in-flight request completes")
	assert.True(t, resp.Close, "and tells its client to reconnect elsewhere")

	assert.NoError(t, <-result)
}

func TestDrainTimeoutCutsOff(t *testing.T) {
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	s := &activation.Server{HTTP: &http.Server{Handler: h}, DrainTimeout: 300 * time.Millisecond, LameDuck: 10 * time.Millisecond}
	addr, stop := startServer(t, s)
	rc := dialRaw(t, addr)
	go func() { _, _ = rc.Get("/") }()
	<-started
	err := stop()
	assert.ErrorIs(t, err, activation.ErrDrainTimeout)
	assert.ErrorContains(t, err, "1 connections still busy after 300ms")
}

func TestServeRefusesBadSetup(t *testing.T) {
	ctx := context.Background()
	assert.ErrorContains(t, (&activation.Server{}).Serve(ctx), "HTTP is nil")
	assert.ErrorContains(t, (&activation.Server{HTTP: &http.Server{}}).Serve(ctx), "no listeners")
	assert.ErrorContains(t, (&activation.Server{HTTP: &http.Server{}, Listeners: []net.Listener{nil}}).Serve(ctx), "listener 0 is nil")
}

// Another holder of the socket (systemd starting a sibling, with the
// default NonBlocking=no) can switch the shared open file description to
// blocking mode under a running server. Its accept then waits in the
// kernel, and Go's Close and http.Server.Shutdown wait for that accept:
// the drain must not hang on it.
func TestDrainWhenSocketTurnedBlocking(t *testing.T) {
	s := &activation.Server{HTTP: &http.Server{Handler: okHandler()}, LameDuck: 10 * time.Millisecond}
	addr, stop := startServer(t, s)
	rc := dialRaw(t, addr)
	_, err := rc.Get("/")
	require.NoError(t, err)

	// A second holder of the same open file description clears O_NONBLOCK.
	f, err := s.Listeners[0].(*net.TCPListener).File()
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.SetNonblock(int(f.Fd()), false))

	// One more connection wakes the accept loop, which then calls accept(2)
	// again and stays in the kernel.
	rc2 := dialRaw(t, addr)
	resp, err := rc2.Get("/")
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	time.Sleep(50 * time.Millisecond)

	result := make(chan error, 1)
	go func() { result <- stop() }()
	select {
	case err := <-result:
		assert.NoError(t, err, "connections drained; the stuck accept is abandoned, not waited for")
	case <-time.After(10 * time.Second):
		t.Fatal("drain hung on a listener in blocking mode")
	}
}

// lateListener imitates a fair listener whose last Accept returns a
// connection just as the listener is closed: the connection was accepted
// in the kernel before the close, and reaches the server only after it.
type lateListener struct {
	net.Listener
	closed chan struct{}
	once   sync.Once
	first  sync.Once
}

func (l *lateListener) Accept() (net.Conn, error) {
	var c net.Conn
	var err error
	handed := false
	l.first.Do(func() {
		handed = true
		c, err = l.Listener.Accept() // the client's connection, its request sent
		if err == nil {
			<-l.closed
			time.Sleep(50 * time.Millisecond) // on its way to the server
		}
	})
	if handed {
		return c, err
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *lateListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func TestDrainAnswersConnectionAcceptedAtTheClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &lateListener{Listener: inner, closed: make(chan struct{})}
	s := &activation.Server{HTTP: &http.Server{Handler: okHandler()}, Listeners: []net.Listener{l}, LameDuck: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	c := dialRaw(t, inner.Addr().String())
	got := make(chan error, 1)
	go func() {
		resp, err := c.Get("/")
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond) // the request is in the socket
	cancel()
	select {
	case err := <-got:
		assert.NoError(t, err, "a connection accepted as the drain began is answered, not closed unanswered")
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s")
	}
	require.NoError(t, <-done)
}

func TestConnectionCapsAreSpread(t *testing.T) {
	const age = 2 * time.Second
	addr, _ := startServer(t, &activation.Server{HTTP: &http.Server{Handler: okHandler()}, MaxConnAge: age})
	const n = 30
	conns := make([]*rawhttp.Conn, n)
	opened := time.Now()
	for i := range conns {
		conns[i] = dialRaw(t, addr)
		_, err := conns[i].Get("/")
		require.NoError(t, err)
	}
	// Poll every connection until told to close; note when.
	closedAt := make([]time.Duration, n)
	for left := n; left > 0 && time.Since(opened) < 2*age; time.Sleep(50 * time.Millisecond) {
		for i, c := range conns {
			if closedAt[i] != 0 {
				continue
			}
			resp, err := c.Get("/")
			require.NoError(t, err)
			if resp.Close {
				closedAt[i] = time.Since(opened)
				left--
			}
		}
	}
	lo, hi := closedAt[0], closedAt[0]
	for i, d := range closedAt {
		require.NotZero(t, d, "connection %d was never capped", i)
		lo, hi = min(lo, d), max(hi, d)
	}
	assert.GreaterOrEqual(t, lo, age/2, "no cap below half of MaxConnAge")
	assert.Greater(t, hi-lo, age/5, "connections opened together are capped at different ages (first %s, last %s)", lo, hi)
}

func TestServeReportsRequests(t *testing.T) {
	path, read := notifySocket(t)
	t.Setenv("NOTIFY_SOCKET", path)
	s := &activation.Server{HTTP: &http.Server{Handler: okHandler()}, Status: "serving v1", StatusEvery: 20 * time.Millisecond}
	addr, stop := startServer(t, s)
	msg, err := read(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "READY=1\nSTATUS=serving v1", msg)

	c := dialRaw(t, addr)
	for range 3 {
		_, err := c.Get("/")
		require.NoError(t, err)
	}
	// The ticker may catch the count on its way up; it ends at 3.
	var n int64
	for n < 3 {
		msg, err = read(5 * time.Second)
		require.NoError(t, err)
		assert.Regexp(t, `^STATUS=serving v1, [123] requests$`, msg)
		var ok bool
		n, ok = statusline.Requests(strings.TrimPrefix(msg, "STATUS="))
		require.True(t, ok, msg)
	}
	assert.EqualValues(t, 3, s.Requests())

	// Nothing more while the count stays put; then the drain says so.
	require.NoError(t, stop())
	msg, err = read(5 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "STOPPING=1\nSTATUS=draining", msg)
	_, err = read(100 * time.Millisecond)
	assert.Error(t, err, "no count after the drain began")

	_, ok := statusline.Requests("serving v1")
	assert.False(t, ok)
	n, ok = statusline.Requests(statusline.WithRequests("", 12))
	assert.True(t, ok)
	assert.EqualValues(t, 12, n)
}
