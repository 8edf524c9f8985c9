//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/worker"
)

// rawRequest sends req as it is on a new connection and returns the status
// the worker answered.
func rawRequest(t *testing.T, addr, req string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	// The worker may answer (and close) before it has read all of an
	// oversized request: keep writing in the background.
	go func() { _, _ = io.WriteString(conn, req) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "an answer to %.40q…", req)
	resp.Body.Close()
	return resp.StatusCode
}

// TestHostileClients: clients that send too much, too slowly or garbage
// are each refused, while the cluster keeps serving everyone else.
func TestHostileClients(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	l, err := StartLoad(LoadOptions{Addr: c.addr, KeepAlive: 4, NewConn: 2, MaxRequests: 5_000_000, MaxDuration: 90 * time.Second})
	require.NoError(t, err)

	// Slowloris: connections that send their headers a byte at a time and
	// never finish. The worker cuts each off after its header timeout.
	const slow = 200
	var wg sync.WaitGroup
	closedAfter := make(chan time.Duration, slow)
	start := time.Now()
	for i := 0; i < slow; i++ {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		require.NoError(t, err)
		wg.Add(2)
		go func() { // trickle
			defer wg.Done()
			if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: app\r\nX-Slow: "); err != nil {
				return
			}
			for j := 0; j < 60; j++ {
				time.Sleep(500 * time.Millisecond)
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
		go func() { // wait for the worker to close it
			defer wg.Done()
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(worker.ReadHeaderTimeout + 20*time.Second))
			_, _ = io.Copy(io.Discard, conn)
			closedAfter <- time.Since(start)
		}()
	}

	// Meanwhile, requests over the limits, and garbage.
	big := strings.Repeat("c", 2*worker.MaxHeaderBytes)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, rawRequest(t, c.addr, "GET / HTTP/1.1\r\nHost: app\r\nCookie: "+big+"\r\n\r\n"), "oversized headers")
	body := strings.Repeat("b", 2*worker.MaxBody)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rawRequest(t, c.addr, fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: app\r\nContent-Length: %d\r\n\r\n%s", len(body), body)), "oversized body")
	assert.Equal(t, http.StatusOK, rawRequest(t, c.addr, "POST /upload HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\n\r\nhello"), "a body within the limit")
	assert.Equal(t, http.StatusBadRequest, rawRequest(t, c.addr, "BLAH\r\n\r\n"), "garbage")
	assert.Equal(t, http.StatusBadRequest, rawRequest(t, c.addr, "GET / HTTP/1.1\r\nHost: app\r\nContent-Length: -1\r\n\r\n"), "a negative length")

	wg.Wait()
	close(closedAfter)
	var latest time.Duration
	n := 0
	for d := range closedAfter {
		n++
		latest = max(latest, d)
	}
	assert.Equal(t, slow, n)
	t.Logf("%d slowloris connections: the last was cut off %s after they opened (header timeout %s)", slow, latest.Round(time.Millisecond), worker.ReadHeaderTimeout)
	assert.Less(t, latest, worker.ReadHeaderTimeout+10*time.Second, "the worker cut the slow clients off")

	res := l.Stop()
	t.Logf("load meanwhile: %s", res.Summary())
	assert.Zero(t, res.Failed(), "failed requests: %v", res.Errors(10))
	assert.Greater(t, res.Served(), 1000)
	assert.Equal(t, []string{"active", "active"}, c.ActiveStates(c.ctx, c.instances(2)...))
}
