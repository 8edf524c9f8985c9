// Command bare is the bench's yardstick for the activation layer: a bare
// net/http server on the socket systemd passes, answering / with the
// reference worker's response and its two headers, and nothing else (no
// drain, no connection caps, no request count, no timeouts, no mux).
// The bench serves it and the reference worker (cmd/app) on sockets of the
// same kind, A B B A, and reports what the worker's guarantees cost.
package main

import (
	"fmt"
	"net/http"
	"os"

	"example.com/app/activation"
)

func main() {
	ls, err := activation.Listen("", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	if len(ls) != 1 {
		fmt.Fprintf(os.Stderr, "bare: want one passed socket, got %d\n", len(ls))
		os.Exit(1)
	}
	instance, version, pid := os.Getenv("APP_INSTANCE"), "bare", os.Getpid()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Instance", instance)
		w.Header().Set("X-Version", version)
		fmt.Fprintf(w, "instance=%s version=%s pid=%d\n", instance, version, pid)
	})
	_ = activation.Ready("serving")
	if err := http.Serve(ls[0], h); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}
