package activation_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"example.com/app/activation"
)

// A worker takes the socket systemd passed (here, outside systemd, it falls
// back to listening itself), serves, and drains when told to stop.
func ExampleServer() {
	ls, err := activation.Listen("", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &activation.Server{
		Listeners:  ls,
		Status:     "serving v1",
		MaxConnAge: 8 * time.Second, // spread keep-alive clients again after a rollout
	}
	srv.HTTP = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if srv.Draining() {
				http.Error(w, "draining", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}

	// In a real worker: signal.NotifyContext, or just SIGTERM from systemd.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	resp, err := http.Get("http://" + ls[0].Addr().String() + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	stop()
	fmt.Println("drained:", <-done)
	// Output:
	// 200 OK
	// drained: <nil>
}

// Notifications are no-ops outside systemd, so a worker sends them
// unconditionally.
func ExampleReady() {
	if err := activation.Ready("serving version 1.2.3"); err != nil {
		fmt.Println("systemd did not get READY=1:", err)
	}
	fmt.Println("ready")
	// Output: ready
}

// Instances sharing the socket systemd passed take its connections in
// turn when each wraps its listeners with Fair.
func ExampleFair() {
	ls, err := activation.Listen("", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, l := range ls {
		fl, err := activation.Fair(l)
		if err != nil {
			fmt.Println("keeping Go's accept:", err)
			continue
		}
		ls[i] = fl
	}
	for _, l := range ls {
		fmt.Println(l.Addr().Network())
		l.Close()
	}
	// Output: tcp
}
