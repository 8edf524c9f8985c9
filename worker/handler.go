package worker

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// MaxSlow bounds /slow?ms=N.
const MaxSlow = 30 * time.Second

// Limits on one request: what a client that sends too much gets refused
// with (431, 413) instead of holding the worker's memory.
const (
	MaxHeaderBytes = 64 << 10 // request line and headers
	MaxBody        = 1 << 20  // POST /upload
)

// Identity is what every response reports about the process.
type Identity struct {
	Instance string // systemd instance name, "0" for app@0
	Version  string // build version
	PID      int
}

// Handler returns the worker's routes. draining reports whether the
// process is draining; /healthz answers 503 from then on. healthz, if not
// 0, is the status /healthz answers while serving (to imitate a release
// whose health check fails).
func Handler(id Identity, draining func() bool, healthz int) http.Handler {
	// The index's answer never changes: made once, not per request.
	indexBody := []byte(fmt.Sprintf("instance=%s version=%s pid=%d\n", id.Instance, id.Version, id.PID))
	index := func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(indexBody)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if draining() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		if healthz != 0 && healthz != http.StatusOK {
			http.Error(w, "unhealthy (APP_HEALTHZ_STATUS)", healthz)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		// Bounded before it is turned into a duration: a large count of
		// milliseconds would overflow it and wrap negative.
		ms, err := strconv.ParseInt(r.URL.Query().Get("ms"), 10, 64)
		if err != nil || ms < 0 || ms > MaxSlow.Milliseconds() {
			http.Error(w, fmt.Sprintf("ms must be an integer from 0 to %d", MaxSlow.Milliseconds()), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "instance=%s version=%s pid=%d slept=%dms\n", id.Instance, id.Version, id.PID, ms)
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, MaxBody))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			http.Error(w, fmt.Sprintf("request body over %d bytes", tooLarge.Limit), http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, fmt.Sprintf("reading the body: %v", err), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "instance=%s version=%s pid=%d received=%d\n", id.Instance, id.Version, id.PID, n)
	})
	instanceHeader, versionHeader := []string{id.Instance}, []string{id.Version}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Header().Set would canonicalise the names and make a slice for
		// each value, per request; net/http only reads these.
		h := w.Header()
		h["X-Instance"] = instanceHeader
		h["X-Version"] = versionHeader
		// The index is what load balancers and benchmarks ask for: served
		// without the mux's matching (HEAD too, as the mux would).
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			index(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// CurrentIdentity is the identity of this process for the given instance
// and version.
func CurrentIdentity(instance, version string) Identity {
	return Identity{Instance: instance, Version: version, PID: os.Getpid()}
}
