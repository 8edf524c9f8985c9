package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/activation"
	"example.com/app/e2e/rawhttp"
)

// appBinary is cmd/app, built once for this package's tests.
var appBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "app-worker-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appBinary = filepath.Join(dir, "app")
	build := exec.Command("go", "build", "-o", appBinary, "-ldflags", "-X main.version=drain-test", "example.com/app/cmd/app")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cmd/app:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one worker process that received the shared socket as fd 3, the
// way systemd passes it to every instance of app@.service.
type proc struct {
	name   string
	cmd    *exec.Cmd
	notify *net.UnixConn
	logs   *bytes.Buffer
	exited chan error
}

func startWorker(t *testing.T, name string, socket *os.File, env ...string) *proc {
	t.Helper()
	dir, err := os.MkdirTemp("", "notify")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "n.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { notify.Close() })

	// sh's $$ is the worker's PID once it execs: LISTEN_PID must match it.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`, appBinary)
	cmd.ExtraFiles = []*os.File{socket}
	cmd.Env = append(os.Environ(),
		"LISTEN_FDS=1", "LISTEN_FDNAMES=app.socket", "NOTIFY_SOCKET="+sock,
		"APP_INSTANCE="+name, "APP_MAX_CONN_AGE=0", "APP_MAX_CONN_REQUESTS=0")
	cmd.Env = append(cmd.Env, env...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	p := &proc{name: name, cmd: cmd, notify: notify, logs: logs, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// Only the process this test started, by its PID.
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("worker %s output:\n%s", name, logs)
		}
	})
	return p
}

// expect reads the next sd_notify message and checks it contains want.
func (p *proc) expect(t *testing.T, want string) {
	t.Helper()
	buf := make([]byte, 4096)
	_ = p.notify.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := p.notify.Read(buf)
	require.NoError(t, err, "worker %s: waiting for %q", p.name, want)
	require.Contains(t, string(buf[:n]), want, "worker %s", p.name)
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("worker %s did not exit", p.name)
		return -1
	}
}

// tally counts what a client loop saw.
type tally struct {
	mu     sync.Mutex
	ok     map[string]int // by X-Instance
	failed []error
}

func (t *tally) add(inst string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed = append(t.failed, err)
		return
	}
	t.ok[inst]++
}

// TestDrainLosesNothing is the contract of a rolling restart at the level
// of one process: worker a holds the shared socket with slow requests in
// flight and keep-alive clients on it, a sibling b shares the socket, and a
// gets SIGTERM under continuous load.
func TestDrainLosesNothing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close() // like systemd, the test holds the socket throughout
	sock, err := l.(*net.TCPListener).File()
	require.NoError(t, err)
	defer sock.Close()
	addr := l.Addr().String()

	a := startWorker(t, "a", sock, "APP_LAME_DUCK=500ms")
	a.expect(t, "READY=1")

	// Connections established while a is the only worker are a's.
	const keepAlive, slow = 4, 5
	var onA []*rawhttp.Conn
	for i := 0; i < keepAlive+slow+1; i++ {
		rc, err := rawhttp.Dial(addr)
		require.NoError(t, err)
		defer rc.Close()
		resp, err := rc.Get("/healthz")
		require.NoError(t, err)
		require.Equal(t, "a", resp.Header.Get("X-Instance"))
		onA = append(onA, rc)
	}
	kaConns, slowConns, healthConn := onA[:keepAlive], onA[keepAlive:keepAlive+slow], onA[keepAlive+slow]

	b := startWorker(t, "b", sock)
	b.expect(t, "READY=1")

	// Slow requests in flight on a.
	slowDone := make(chan *http.Response, slow)
	for _, rc := range slowConns {
		go func(rc *rawhttp.Conn) {
			resp, err := rc.Get("/slow?ms=2000")
			assert.NoError(t, err, "slow request in flight during the drain")
			slowDone <- resp
		}(rc)
	}

	stop := make(chan struct{})
	deadline := time.Now().Add(30 * time.Second) // bound every loop in time
	var wg sync.WaitGroup
	keep := &tally{ok: map[string]int{}}
	var toldToClose atomic.Int64
	for _, rc := range kaConns {
		wg.Add(1)
		go func(rc *rawhttp.Conn) {
			defer wg.Done()
			for n := 0; n < 200000 && time.Now().Before(deadline); n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := rc.Get("/")
				if err != nil {
					keep.add("", err)
					return
				}
				keep.add(resp.Header.Get("X-Instance"), nil)
				if resp.Close {
					if resp.Header.Get("X-Instance") == "a" {
						toldToClose.Add(1)
					}
					rc.Close()
					if rc, err = rawhttp.Dial(addr); err != nil {
						keep.add("", err)
						return
					}
					defer rc.Close()
				}
			}
		}(rc)
	}
	fresh := &tally{ok: map[string]int{}}
	afterStopping := &tally{ok: map[string]int{}}
	var stoppingSeen atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
		for n := 0; n < 200000 && time.Now().Before(deadline); n++ {
			select {
			case <-stop:
				return
			default:
			}
			seen := stoppingSeen.Load()
			resp, err := client.Get("http://" + addr + "/")
			inst := ""
			if err == nil {
				inst = resp.Header.Get("X-Instance")
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			fresh.add(inst, err)
			if seen {
				afterStopping.add(inst, err)
			}
		}
	}()

	time.Sleep(300 * time.Millisecond)
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	a.expect(t, "STOPPING=1")
	stoppingSeen.Store(true)

	resp, err := healthConn.Get("/healthz")
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "/healthz while draining")
	assert.True(t, resp.Close, "/healthz while draining carries Connection: close")

	for i := 0; i < slow; i++ {
		select {
		case resp := <-slowDone:
			require.NotNil(t, resp)
			assert.Equal(t, 200, resp.StatusCode)
			assert.True(t, resp.Close, "an in-flight response during the drain carries Connection: close")
		case <-time.After(20 * time.Second):
			t.Fatal("slow request did not complete")
		}
	}
	assert.Equal(t, 0, a.wait(t), "a drained worker exits 0")

	time.Sleep(300 * time.Millisecond) // load keeps running on b alone
	close(stop)
	wg.Wait()

	require.NoError(t, b.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, b.wait(t))

	t.Logf("keep-alive: served %v, failed %d, told to close by a %d; new connections: served %v, failed %d; after STOPPING: %v",
		keep.ok, len(keep.failed), toldToClose.Load(), fresh.ok, len(fresh.failed), afterStopping.ok)
	assert.Empty(t, keep.failed, "keep-alive requests failed")
	assert.Empty(t, fresh.failed, "new-connection requests failed")
	assert.EqualValues(t, keepAlive, toldToClose.Load(), "every keep-alive connection on a was told to close")
	assert.Zero(t, afterStopping.ok["a"], "a accepted a connection after it said STOPPING=1")
	assert.Positive(t, afterStopping.ok["b"], "b served the new connections")
	assert.Greater(t, keep.ok["b"], 0, "keep-alive clients moved to b")
}

func TestStartupDelayAndStatus(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	sock, err := l.(*net.TCPListener).File()
	require.NoError(t, err)
	defer sock.Close()

	start := time.Now()
	p := startWorker(t, "0", sock, "APP_STARTUP_DELAY=300ms")
	p.expect(t, "STATUS=warming up (300ms)")
	p.expect(t, "READY=1\nSTATUS=serving version drain-test")
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "READY=1 only after the warm-up")

	rc, err := rawhttp.Dial(l.Addr().String())
	require.NoError(t, err)
	defer rc.Close()
	resp, err := rc.Get("/")
	require.NoError(t, err)
	assert.Equal(t, "0", resp.Header.Get("X-Instance"))
	assert.Equal(t, "drain-test", resp.Header.Get("X-Version"))

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, p.wait(t))
}

func TestBadFlagsRefused(t *testing.T) {
	out, err := exec.Command(appBinary, "-drain-timeout", "soon").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Contains(t, string(out), `-drain-timeout "soon": want a duration`)
}

// The worker serves on its own probe socket too, replacing a stale one left
// by a killed process, and removes it when it exits.
func TestProbeSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	sock, err := l.(*net.TCPListener).File()
	require.NoError(t, err)
	defer sock.Close()

	probe := filepath.Join(t.TempDir(), "0.sock")
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: probe, Net: "unix"})
	require.NoError(t, err)
	stale.SetUnlinkOnClose(false)
	require.NoError(t, stale.Close())

	p := startWorker(t, "0", sock, "APP_PROBE_SOCKET="+probe, "APP_HEALTHZ_STATUS=503")
	p.expect(t, "READY=1\nSTATUS=serving version drain-test")

	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", probe)
	}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://app/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "APP_HEALTHZ_STATUS")
	assert.Equal(t, "0", resp.Header.Get("X-Instance"), "this instance answers on its probe socket")
	resp, err = client.Get("http://app/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	client.CloseIdleConnections()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, p.wait(t))
	_, err = os.Stat(probe)
	assert.ErrorIs(t, err, os.ErrNotExist, "the probe socket is removed on exit")
}

func TestProbeSocketRefusesToReplaceAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.sock")
	require.NoError(t, os.WriteFile(path, []byte("data"), 0o600))
	_, err := activation.ListenUnix(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exists and is not a socket")
	b, _ := os.ReadFile(path)
	assert.Equal(t, "data", string(b), "the file is left alone")
}
