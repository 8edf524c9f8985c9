// Package rawhttp is a test client for drain and rollout tests: one
// HTTP/1.1 keep-alive connection that, unlike net/http's client, never
// retries a request on a fresh connection, so a request lost to a closing
// connection shows as an error. It is small on purpose: the unit tests of
// activation and worker use it without the e2e test bed.
package rawhttp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Conn is one HTTP/1.1 keep-alive client connection. Unlike net/http's
// client it never retries a request on a fresh connection, so a request
// lost to a closing connection shows as an error: what drain tests need.
type Conn struct {
	c  net.Conn
	br *bufio.Reader
}

// Dial opens a connection to addr.
func Dial(addr string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return New(c), nil
}

// New is a Conn over c, an open connection (from a network namespace of
// a test's, say).
func New(c net.Conn) *Conn { return &Conn{c: c, br: bufio.NewReader(c)} }

// Get sends one GET on the connection and reads the whole response.
func (c *Conn) Get(path string) (*http.Response, error) {
	_ = c.c.SetDeadline(time.Now().Add(40 * time.Second))
	if _, err := fmt.Fprintf(c.c, "GET %s HTTP/1.1\r\nHost: app\r\n\r\n", path); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return resp, nil
}

// ClosedByPeer reports whether the server closed the connection (EOF within
// two seconds).
func (c *Conn) ClosedByPeer() bool {
	_ = c.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.br.ReadByte()
	return err == io.EOF
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }
