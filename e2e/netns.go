//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// sysSetns is setns(2) on amd64, the architecture the package is built
// for (the syscall package does not name it).
const sysSetns = 308

// NetNS is a network namespace a test created: its own interfaces,
// addresses and loopback, reachable only through the links the test makes.
type NetNS struct {
	Name string // ip netns name, under /run/netns
}

// NewNetNS creates the namespace app-e2e-<name>-<this process> with its
// loopback up.
func NewNetNS(name string) (*NetNS, error) {
	n := &NetNS{Name: fmt.Sprintf("%s%s-%d", dirPrefix, name, os.Getpid())}
	if err := ip("netns", "add", n.Name); err != nil {
		return nil, err
	}
	if err := ip("-n", n.Name, "link", "set", "lo", "up"); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Path is the namespace's file, for systemd-nspawn and setns(2).
func (n *NetNS) Path() string { return filepath.Join("/run/netns", n.Name) }

// Close deletes the namespace (and the links in it).
func (n *NetNS) Close() { _ = ip("netns", "del", n.Name) }

// Link connects a and b with a veth pair: aIf with aAddr (CIDR) in a, bIf
// with bAddr in b.
func Link(a *NetNS, aIf, aAddr string, b *NetNS, bIf, bAddr string) error {
	if err := ip("link", "add", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name); err != nil {
		return err
	}
	for _, end := range []struct{ ns, ifc, addr string }{{a.Name, aIf, aAddr}, {b.Name, bIf, bAddr}} {
		if err := ip("-n", end.ns, "addr", "add", end.addr, "dev", end.ifc); err != nil {
			return err
		}
		if err := ip("-n", end.ns, "link", "set", end.ifc, "up"); err != nil {
			return err
		}
	}
	return nil
}

// Dial connects from inside the namespace: the socket is made by a thread
// that entered it, and that thread ends with the call (it is never handed
// back to the runtime in another namespace).
func (n *NetNS) Dial(network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // no unlock: the thread exits with this goroutine
		f, err := os.Open(n.Path())
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			ch <- result{err: fmt.Errorf("setns %s: %w", n.Name, e)}
			return
		}
		c, err := net.DialTimeout(network, addr, 10*time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// Command runs a program of this machine inside the namespace.
func (n *NetNS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

func ip(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cleanStaleNetNS deletes the namespaces earlier runs left behind.
func cleanStaleNetNS() error {
	names, err := filepath.Glob(filepath.Join("/run/netns", dirPrefix+"*"))
	if err != nil {
		return err
	}
	for _, p := range names {
		if err := ip("netns", "del", filepath.Base(p)); err != nil {
			return err
		}
	}
	return nil
}
