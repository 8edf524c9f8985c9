package activation

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"example.com/app/e2e/rawhttp"
)

// discard is a response writer that keeps nothing: what the handler layer
// costs, without the network.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// bareHandler is e2e/bench/bare's: the reference worker's response and
// headers.
var bareHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Instance", "0")
	w.Header().Set("X-Version", "1.0.0")
	fmt.Fprintf(w, "instance=%s version=%s pid=%d\n", "0", "1.0.0", 4242)
})

// BenchmarkHandlerLayer is what Server adds to each request on a
// keep-alive connection (request count, connection caps, the
// Connection: close decision), against the handler alone:
//
//	go test -run '^$' -bench HandlerLayer -benchmem ./activation/
func BenchmarkHandlerLayer(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.Run("handler alone", func(b *testing.B) {
		w := &discard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			bareHandler.ServeHTTP(w, req)
		}
	})
	b.Run("through Server", func(b *testing.B) {
		s := &Server{HTTP: &http.Server{Handler: bareHandler}, MaxConnAge: 6 * time.Second, MaxConnRequests: 1 << 30}
		s.install()
		r := req.WithContext(s.HTTP.ConnContext(context.Background(), nil))
		w := &discard{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			s.HTTP.Handler.ServeHTTP(w, r)
		}
	})
}

// BenchmarkServe is a request on one of 16 keep-alive loopback
// connections: net/http alone, net/http with the reference worker's
// timeouts (each request then sets and clears deadlines: timers), and
// Server (drain bookkeeping, connection caps):
//
//	go test -run '^$' -bench Serve -count 6 ./activation/
//
// Client and server share the machine's CPUs: compare the rows of one run.
func BenchmarkServe(b *testing.B) {
	timeouts := func(h http.Handler) *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 40 * time.Second, IdleTimeout: 2 * time.Minute}
	}
	for _, c := range []struct {
		name  string
		serve func(l net.Listener) (stop func())
	}{
		{"net/http", func(l net.Listener) func() {
			srv := &http.Server{Handler: bareHandler}
			go srv.Serve(l)
			return func() { srv.Close() }
		}},
		{"net/http with timeouts", func(l net.Listener) func() {
			srv := timeouts(bareHandler)
			go srv.Serve(l)
			return func() { srv.Close() }
		}},
		{"activation.Server with timeouts", func(l net.Listener) func() {
			s := &Server{HTTP: timeouts(bareHandler), Listeners: []net.Listener{l}, MaxConnAge: time.Hour, MaxConnRequests: 1 << 30,
				LameDuck: time.Millisecond, Signals: []os.Signal{syscall.SIGUSR2},
				Logger: slog.New(slog.DiscardHandler)}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.Serve(ctx); close(done) }()
			return func() { cancel(); <-done }
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			stop := c.serve(l)
			defer stop()
			const conns = 16
			var left atomic.Int64
			left.Store(int64(b.N))
			clients := make([]*rawhttp.Conn, conns)
			for i := range clients {
				if clients[i], err = rawhttp.Dial(l.Addr().String()); err != nil {
					b.Fatal(err)
				}
				defer clients[i].Close()
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, cl := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						if _, err := cl.Get("/"); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
