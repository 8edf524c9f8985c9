package activation_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/app/activation"
)

// TestMain lets the test binary double as a socket-activated child: with
// ACTIVATION_HELPER set it runs the helper instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("ACTIVATION_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper runs in the child. It prints what it received, one line each, and
// answers one connection per listener with the listener's name.
func helper(mode string) int {
	// Printed last: after the sockets were taken, the variables must be gone.
	defer printEnv()
	switch mode {
	case "names":
		byName, err := activation.Listeners()
		if err != nil {
			fmt.Printf("error %v\n", err)
			if errors.Is(err, activation.ErrNotActivated) {
				fmt.Println("ErrNotActivated")
			}
			return 0
		}
		for name, ls := range byName {
			for _, l := range ls {
				if l == nil {
					fmt.Println("nil listener")
					return 1
				}
				fmt.Printf("listener %s %s\n", name, l.Addr())
				if err := answer(l, name); err != nil {
					fmt.Printf("error %v\n", err)
					return 1
				}
			}
		}
	case "listen":
		ls, err := activation.Listen(os.Getenv("HELPER_NAME"), os.Getenv("HELPER_FALLBACK"))
		if err != nil {
			fmt.Printf("error %v\n", err)
			if errors.Is(err, activation.ErrNoListener) {
				fmt.Println("ErrNoListener")
			}
			return 0
		}
		for _, l := range ls {
			fmt.Printf("listener %s\n", l.Addr())
			if err := answer(l, "listen"); err != nil {
				fmt.Printf("error %v\n", err)
				return 1
			}
		}
	default:
		fmt.Printf("unknown helper mode %q\n", mode)
		return 1
	}
	return 0
}

func printEnv() {
	fmt.Printf("env LISTEN_FDS=%q LISTEN_PID=%q LISTEN_FDNAMES=%q\n",
		os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDNAMES"))
}

func answer(l net.Listener, msg string) error {
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(msg))
	return err
}

// activatedChild starts the test binary as a helper with files passed the
// way systemd passes them: as fds 3, 4, … with LISTEN_FDS and LISTEN_PID set
// to the child's own PID (sh's $$ survives its exec).
func activatedChild(t *testing.T, mode string, files []*os.File, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`, os.Args[0], "-test.run=^$")
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), "ACTIVATION_HELPER="+mode, fmt.Sprintf("LISTEN_FDS=%d", len(files)))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// listenerFile opens a loopback listener and returns it with a dup of its fd.
func listenerFile(t *testing.T) (net.Listener, *os.File) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return l, f
}

// dialAndRead connects (the connection waits in the listener's queue until
// the child accepts it) and returns a function reading what the child wrote.
func dialAndRead(t *testing.T, addr string) func() string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return func() string {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := bufio.NewReader(c).ReadString('\n')
		return b
	}
}

// notifySocket listens on a unixgram socket in a temporary directory, the
// way systemd's NOTIFY_SOCKET does, and returns its path and a reader.
func notifySocket(t *testing.T) (string, func(timeout time.Duration) (string, error)) {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdnotify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	buf := make([]byte, 4096)
	return path, func(timeout time.Duration) (string, error) {
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(buf)
		return string(buf[:n]), err
	}
}

func lines(out []byte) []string { return strings.Split(strings.TrimSpace(string(out)), "\n") }
