package activation_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"example.com/app/activation"
	"example.com/app/e2e/rawhttp"
)

var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Instance", "0")
	w.Header().Set("X-Version", "1.0.0")
	fmt.Fprintf(w, "instance=%s version=%s pid=%d\n", "0", "1.0.0", 4242)
})

// BenchmarkServe is a request on one of 16 keep-alive loopback
// connections: net/http alone, net/http with the reference worker's
// timeouts (each request then sets and clears deadlines: timers), and
// activation.Server (drain bookkeeping, connection caps):
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
			srv := &http.Server{Handler: benchHandler}
			go srv.Serve(l)
			return func() { srv.Close() }
		}},
		{"net/http with timeouts", func(l net.Listener) func() {
			srv := timeouts(benchHandler)
			go srv.Serve(l)
			return func() { srv.Close() }
		}},
		{"activation.Server with timeouts", func(l net.Listener) func() {
			s := &activation.Server{HTTP: timeouts(benchHandler), Listeners: []net.Listener{l}, MaxConnAge: time.Hour, MaxConnRequests: 1 << 30,
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
