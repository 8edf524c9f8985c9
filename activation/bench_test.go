package activation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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
