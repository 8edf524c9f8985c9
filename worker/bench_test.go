package worker_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"example.com/app/worker"
)

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkIndex is the worker's handler for GET /, what load balancers
// and benchmarks ask for:
//
//	go test -run '^$' -bench Index -benchmem ./worker/
func BenchmarkIndex(b *testing.B) {
	h := worker.Handler(worker.Identity{Instance: "0", Version: "1.0.0", PID: 4242}, func() bool { return false }, 0)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}
