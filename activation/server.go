package activation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"example.com/app/activation/statusline"
)

// Defaults for the zero values of [Server]'s durations.
const (
	DefaultDrainTimeout = 25 * time.Second
	DefaultLameDuck     = 500 * time.Millisecond
)

// ErrDrainTimeout is returned by [Server.Serve] when in-flight requests were
// still running when the drain timeout passed; they were cut off.
var ErrDrainTimeout = errors.New("drain timeout: in-flight requests cut off")

// Server serves an *http.Server on the listeners systemd passed, tells systemd
// when it is ready, and drains without losing an accepted request. See the
// package documentation for the order of events.
//
// Set the fields before calling Serve; Serve installs its own ConnContext and
// ConnState hooks around any the http.Server already has, and wraps its
// Handler.
type Server struct {
	// HTTP is the server to run; its Handler and timeouts are used as set.
	HTTP *http.Server
	// Listeners are served concurrently; see [Listen].
	Listeners []net.Listener
	// Logger receives drain progress; nil means slog.Default().
	Logger *slog.Logger
	// Status is sent as STATUS= along with READY=1.
	Status string
	// StatusEvery, when positive, resends STATUS= that often while
	// serving, with the count of requests served so far appended
	// ("serving, 1234 requests"): `app-reloader top` turns it into
	// requests per second. Nothing is sent while the count stays put.
	StatusEvery time.Duration

	// DrainTimeout bounds how long in-flight requests may take once draining
	// started; past it they are cut off and Serve returns ErrDrainTimeout.
	// Keep it below the unit's TimeoutStopSec=.
	DrainTimeout time.Duration
	// LameDuck is how long open keep-alive connections keep being served
	// (every response with "Connection: close") before idle ones are
	// closed. It ends early once no connection is left.
	LameDuck time.Duration

	// MaxConnAge, when positive, answers requests on a connection older
	// than its cap with "Connection: close", so keep-alive clients
	// reconnect and spread over the instances again after a rollout. Each
	// connection's cap is drawn between half of MaxConnAge and all of it:
	// connections opened together (all the clients of an instance that
	// restarted) do not all come back together.
	MaxConnAge time.Duration
	// MaxConnRequests, when positive, answers the n-th request on a
	// connection with "Connection: close".
	MaxConnRequests int

	// Signals start the drain; nil means SIGTERM and SIGINT.
	Signals []os.Signal

	draining atomic.Bool
	open     atomic.Int64
	requests atomic.Int64
}

// Requests is how many requests the server has taken so far.
func (s *Server) Requests() int64 { return s.requests.Load() }

// reportRequests sends the request count every StatusEvery until ctx ends
// or the server drains.
func (s *Server) reportRequests(ctx context.Context, log *slog.Logger) {
	if s.StatusEvery <= 0 {
		return
	}
	tick := time.NewTicker(s.StatusEvery)
	defer tick.Stop()
	var sent int64
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n := s.requests.Load()
		if n == sent || s.draining.Load() {
			continue
		}
		// A datagram the manager could not take now is no reason to stop:
		// the next tick sends the newer count. Said once per failing run.
		if err := Status(statusline.WithRequests(s.Status, n)); err != nil {
			if !failing {
				log.Warn("could not send the request count", "err", err)
			}
			failing = true
			continue
		}
		failing = false
		sent = n
	}
}

type connInfoKey struct{}

// connInfo is what the lifetime cap knows about one connection.
type connInfo struct {
	start    time.Time
	maxAge   time.Duration // 0: no cap
	requests atomic.Int64
	// cw is the response writer wrapper of the connection's current
	// request, reused from one request to the next: HTTP/1 serves a
	// connection's requests one after the other, so a wrapper per
	// connection is enough, and a request costs no allocation for it.
	cw closeWriter
}

// Draining reports whether the server has started draining. Health checks
// should fail from then on.
func (s *Server) Draining() bool { return s.draining.Load() }

// Serve serves until a signal in Signals arrives or ctx ends, then drains and
// returns nil once every in-flight request finished. It returns an error
// without draining when a listener fails, and [ErrDrainTimeout] when the
// drain took longer than DrainTimeout.
func (s *Server) Serve(ctx context.Context) error {
	if s.HTTP == nil {
		return errors.New("activation.Server: HTTP is nil")
	}
	if len(s.Listeners) == 0 {
		return errors.New("activation.Server: no listeners")
	}
	for i, l := range s.Listeners {
		if l == nil {
			return fmt.Errorf("activation.Server: listener %d is nil", i)
		}
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	drainTimeout := orDefault(s.DrainTimeout, DefaultDrainTimeout)
	lameDuck := orDefault(s.LameDuck, DefaultLameDuck)
	sigs := s.Signals
	if sigs == nil {
		sigs = []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	}
	s.install()

	sigCtx, stopSignals := signal.NotifyContext(ctx, sigs...)
	defer stopSignals()

	wdCtx, stopWatchdog := context.WithCancel(context.Background())
	wdDone := make(chan error, 1)
	go func() { wdDone <- Watchdog(wdCtx) }()
	defer func() {
		stopWatchdog()
		if err := <-wdDone; err != nil {
			log.Warn("watchdog stopped", "err", err)
		}
	}()

	listeners := make([]*drainListener, len(s.Listeners))
	accepting := make(chan struct{}, len(s.Listeners))
	served := make(chan error, len(s.Listeners))
	for i, l := range s.Listeners {
		listeners[i] = newDrainListener(l, log, accepting, &s.open)
		go func(l net.Listener) { served <- s.HTTP.Serve(l) }(listeners[i])
	}
	closeListeners := func() {
		for _, l := range listeners {
			if err := l.Close(); errors.Is(err, errCloseBlocked) {
				log.Warn("stopped accepting late", "listener", l.Addr().String(), "err", err)
			}
		}
		// Every connection accepted before the close is counted in s.open
		// once its accept loop has ended: the lame duck below waits for
		// it, so it is answered before Shutdown (which would close a
		// connection whose first request it reads after shutting down).
		for _, l := range listeners {
			l.wait(closeWait)
		}
	}

	// READY=1 only once every listener is inside Accept.
	for range listeners {
		select {
		case <-accepting:
		case err := <-served:
			closeListeners()
			s.HTTP.Close()
			return fmt.Errorf("serve: %w", err)
		}
	}
	if err := Ready(s.Status); err != nil {
		log.Warn("could not notify readiness", "err", err)
	}
	log.Info("serving", "listeners", addrs(s.Listeners))
	reportCtx, stopReport := context.WithCancel(sigCtx)
	defer stopReport()
	go s.reportRequests(reportCtx, log)

	select {
	case err := <-served:
		// A listener failed before any drain was asked for.
		closeListeners()
		s.HTTP.Close()
		return fmt.Errorf("serve: %w", err)
	case <-sigCtx.Done():
	}

	// Drain. Stop accepting first: connections still queued in the kernel
	// then go to the sibling instances, which share the socket.
	deadline := time.Now().Add(drainTimeout)
	s.draining.Store(true)
	stopReport()
	closeListeners()
	if err := Stopping("draining"); err != nil {
		log.Warn("could not notify stopping", "err", err)
	}
	log.Info("draining", "open_connections", s.open.Load(), "lame_duck", lameDuck, "timeout", drainTimeout)

	// Lame duck: open connections get their next answer with
	// "Connection: close" instead of having an idle connection closed
	// under a request the client is sending.
	lameEnd := time.Now().Add(lameDuck)
	for s.open.Load() > 0 && time.Now().Before(lameEnd) {
		time.Sleep(5 * time.Millisecond)
	}

	shutCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := s.HTTP.Shutdown(shutCtx)
	for range listeners {
		<-served
	}
	if err != nil {
		left := s.open.Load()
		s.HTTP.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%d connections still busy after %s: %w", left, drainTimeout, ErrDrainTimeout)
		}
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("drained")
	return nil
}

// install hooks the connection bookkeeping and the Connection: close logic
// into s.HTTP, keeping whatever hooks it already had.
func (s *Server) install() {
	h := s.HTTP.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	s.HTTP.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		info, _ := r.Context().Value(connInfoKey{}).(*connInfo)
		if info != nil {
			info.requests.Add(1)
		}
		var cw *closeWriter
		if info != nil && r.ProtoMajor == 1 {
			cw = &info.cw
		} else {
			cw = new(closeWriter) // HTTP/2 serves a connection's streams at once
		}
		*cw = closeWriter{ResponseWriter: w, s: s, info: info}
		h.ServeHTTP(cw, r)
		if !cw.decided {
			cw.WriteHeader(http.StatusOK)
		}
		// What the handler was given must not outlive the request.
		cw.ResponseWriter = nil
	})

	prevCtx := s.HTTP.ConnContext
	s.HTTP.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		info := &connInfo{start: time.Now()}
		if s.MaxConnAge > 0 {
			info.maxAge = s.MaxConnAge/2 + rand.N(s.MaxConnAge/2+1)
		}
		return context.WithValue(ctx, connInfoKey{}, info)
	}
	prevState := s.HTTP.ConnState
	s.HTTP.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateClosed, http.StateHijacked:
			// Counted up by the listener as it accepts (drainListener).
			s.open.Add(-1)
		}
		if prevState != nil {
			prevState(c, st)
		}
	}
}

// closeConn reports whether the response on this connection should end it.
func (s *Server) closeConn(info *connInfo) bool {
	if s.draining.Load() {
		return true
	}
	if info == nil {
		return false
	}
	if s.MaxConnRequests > 0 && info.requests.Load() >= int64(s.MaxConnRequests) {
		return true
	}
	return info.maxAge > 0 && time.Since(info.start) >= info.maxAge
}

// closeWriter decides on "Connection: close" when the response header is
// written, not when the request arrives, so a long request that was in
// flight when the drain began still tells its client to go elsewhere.
type closeWriter struct {
	http.ResponseWriter
	s       *Server
	info    *connInfo
	decided bool
}

func (w *closeWriter) WriteHeader(code int) {
	if !w.decided && code >= 200 {
		w.decided = true
		if w.s.closeConn(w.info) {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeWriter) Write(b []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers stream through the wrapper.
func (w *closeWriter) Flush() {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *closeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// closeWait bounds how long the drain waits for a listener to close.
const closeWait = time.Second

// errCloseBlocked says a listener did not close within closeWait.
var errCloseBlocked = errors.New("listener close blocked: the socket is in blocking mode and accept(2) is waiting in the kernel; set NonBlocking=yes in the service unit")

// acceptResult is one return of the underlying Accept.
type acceptResult struct {
	conn net.Conn
	err  error
}

// drainListener reports its first Accept, is closed once however often
// Close is called (by the drain and again by http.Server.Shutdown), and
// never lets a close hang the drain.
//
// The underlying Accept runs in its own goroutine. Go's Close waits for a
// running Accept to return, and so does http.Server.Shutdown; when the
// shared socket has been switched to blocking mode (by any process holding
// it: the instances share its open file description) that Accept sits in
// the kernel until a connection arrives. Close therefore waits at most
// closeWait and then abandons the accepting goroutine. Connections accepted
// before the close are still handed to the server, so none is lost.
type drainListener struct {
	net.Listener
	log       *slog.Logger
	accepting chan<- struct{}
	entered   sync.Once
	open      *atomic.Int64     // the server's open connections, counted at accept
	results   chan acceptResult // closed when the accept loop ends
	ended     chan struct{}     // closed when the accept loop returns
	closing   sync.Once
	closed    chan struct{} // closed when the underlying Close returned
	closeErr  error
	abandon   chan struct{} // closed when Close gave up waiting
}

func newDrainListener(l net.Listener, log *slog.Logger, accepting chan<- struct{}, open *atomic.Int64) *drainListener {
	d := &drainListener{
		Listener:  l,
		log:       log,
		accepting: accepting,
		open:      open,
		results:   make(chan acceptResult),
		ended:     make(chan struct{}),
		closed:    make(chan struct{}),
		abandon:   make(chan struct{}),
	}
	go d.acceptLoop()
	return d
}

func (d *drainListener) acceptLoop() {
	defer close(d.ended)
	for {
		c, err := d.Listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			close(d.results)
			return
		}
		if c != nil {
			// Open from now on, not from when http.Server gets to it.
			d.open.Add(1)
		}
		select {
		case d.results <- acceptResult{c, err}:
		case <-d.abandon:
			if c != nil {
				d.log.Warn("connection accepted after the listener was abandoned: closed unanswered", "remote", c.RemoteAddr().String(), "err", errCloseBlocked)
				c.Close()
				d.open.Add(-1)
			}
			return
		}
	}
}

// wait waits, at most timeout, for the accept loop to end: after Close,
// once it has handed the server every connection it accepted.
func (d *drainListener) wait(timeout time.Duration) {
	select {
	case <-d.ended:
	case <-d.abandon:
	case <-time.After(timeout):
	}
}

func (d *drainListener) Accept() (net.Conn, error) {
	d.entered.Do(func() { d.accepting <- struct{}{} })
	select {
	case r, ok := <-d.results:
		if !ok {
			return nil, net.ErrClosed
		}
		return r.conn, r.err
	case <-d.abandon:
		return nil, net.ErrClosed
	}
}

func (d *drainListener) Close() error {
	first := false
	d.closing.Do(func() {
		first = true
		go func() {
			d.closeErr = d.Listener.Close()
			close(d.closed)
		}()
	})
	select {
	case <-d.closed:
		return d.closeErr
	case <-d.abandon:
		return nil // reported by the first Close
	default:
	}
	if !first {
		// The first Close is still waiting: share its verdict.
		select {
		case <-d.closed:
			return d.closeErr
		case <-d.abandon:
			return nil
		}
	}
	select {
	case <-d.closed:
		return d.closeErr
	case <-time.After(closeWait):
		close(d.abandon)
		return errCloseBlocked
	}
}

func addrs(ls []net.Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Addr().String()
	}
	return out
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
