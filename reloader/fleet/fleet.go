package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"example.com/app/reloader"
	"example.com/app/reloader/journal"
	"example.com/app/reloader/proc"
	"example.com/app/reloader/sdbus"
	"example.com/app/units"
)

// DefaultSSH is the command that reaches another machine; its options come
// from ~/.ssh/config, or from the command itself ("ssh -F fleet.conf").
const DefaultSSH = "ssh"

// How long a silent host may keep a remote command waiting: the
// connection and the SSH handshake within SSHConnectTimeout, then no more
// than SSHAliveCountMax keep-alives SSHAliveInterval apart unanswered.
const (
	SSHConnectTimeout = 10 * time.Second
	SSHAliveInterval  = 5 * time.Second
	SSHAliveCountMax  = 3
)

// Remote is a machine reached over SSH: its systemd through
// systemd-stdio-bridge, as `systemctl -H` does, and its files through
// plain commands.
type Remote struct {
	// Host is what ssh connects to: "web1", "root@10.0.0.5".
	Host string
	// SSH is the command and its options, split on spaces; "" is DefaultSSH.
	SSH string
}

func (r Remote) command(ctx context.Context, remote ...string) *exec.Cmd {
	ssh := strings.Fields(r.SSH)
	if len(ssh) == 0 {
		ssh = []string{DefaultSSH}
	}
	// -x: no X11, -T: no terminal (a binary stream), BatchMode: fail
	// instead of asking for a password. A host that does not answer, or
	// stops answering, ends the command instead of hanging a deploy: the
	// connection and the handshake must finish within ConnectTimeout, and
	// a silent connection is given up after ServerAliveCountMax missed
	// keep-alives. Options given in --ssh come first, and win.
	args := append(ssh[1:], "-x", "-T", "-o", "BatchMode=yes",
		"-o", "ConnectTimeout="+strconv.Itoa(int(SSHConnectTimeout/time.Second)),
		"-o", "ServerAliveInterval="+strconv.Itoa(int(SSHAliveInterval/time.Second)),
		"-o", "ServerAliveCountMax="+strconv.Itoa(SSHAliveCountMax),
		"--", r.Host)
	return exec.CommandContext(ctx, ssh[0], append(args, remote...)...)
}

// pipe is a D-Bus connection's stream: the ssh process's stdout and stdin.
type pipe struct {
	io.Reader
	io.WriteCloser
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	once   sync.Once
}

func (p *pipe) Close() error {
	p.once.Do(func() {
		p.WriteCloser.Close()
		_ = p.cmd.Process.Kill() // the ssh we started, by its PID
		_ = p.cmd.Wait()
	})
	return nil
}

// dialBus opens one D-Bus connection to the remote system manager over
// `ssh HOST systemd-stdio-bridge`.
func (r Remote) dialBus(ctx context.Context) (*dbus.Conn, error) {
	cmd := r.command(ctx, "systemd-stdio-bridge")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &pipe{Reader: stdout, WriteCloser: stdin, cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	fail := func(err error) (*dbus.Conn, error) {
		p.Close()
		if msg := strings.TrimSpace(p.stderr.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	conn, err := dbus.NewConn(p)
	if err != nil {
		return fail(err)
	}
	// EXTERNAL without an identity: the bridge runs as the ssh user and
	// speaks for it; sd-bus accepts an empty EXTERNAL over a pipe.
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return fail(fmt.Errorf("D-Bus authentication: %w", err))
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return fail(fmt.Errorf("D-Bus hello: %w", err))
	}
	return conn, nil
}

// Connect connects to the remote machine's systemd, with its journal
// read over ssh too. The connection outlives ctx, as sdbus.Connect's does;
// Close ends its ssh processes.
func (r Remote) Connect(ctx context.Context) (*sdbus.DBus, error) {
	d, err := sdbus.ConnectRemote(func() (*dbus.Conn, error) { return r.dialBus(context.WithoutCancel(ctx)) }, r.Journal())
	if err != nil {
		return nil, fmt.Errorf("connect to systemd on %s: %w", r.Host, err)
	}
	return d, nil
}

// Journal reads the remote machine's journal: journalctl run there.
func (r Remote) Journal() journal.Reader {
	return journal.Reader{Command: func(ctx context.Context, args ...string) *exec.Cmd {
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = shellQuote(a)
		}
		// One string: ssh hands the command to the remote shell.
		return r.command(ctx, "journalctl "+strings.Join(quoted, " "))
	}}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Report reads the remote machine's last rollout report; nil when there
// is none yet.
func (r Remote) Report(ctx context.Context, path string) (*reloader.Report, error) {
	cmd := r.command(ctx, "cat", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No such file") {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: last rollout %s: %w: %s", r.Host, path, err, strings.TrimSpace(stderr.String()))
	}
	return reloader.ParseReport(out, r.Host+":"+path)
}

// Reload rolls the remote machine's cluster as it would roll itself: its
// systemd reloads app-reload.service, whose app-reloader reload runs there
// with that machine's configuration, probes and report. It returns that
// report.
func (r Remote) Reload(ctx context.Context, d *sdbus.DBus) (*reloader.Report, error) {
	before, err := r.Report(ctx, reloader.DefaultReportPath)
	if err != nil {
		return nil, err
	}
	return reloader.DelegateWith(ctx, d, units.App, reloader.DefaultReportPath,
		func() (*reloader.Report, error) {
			return r.Report(context.WithoutCancel(ctx), reloader.DefaultReportPath)
		},
		newerThan(before))
}

// newerThan tells a report of a rollout that ran since before was read
// (nil: there was none), by its start rather than by this machine's
// clock, which is not the remote one's.
func newerThan(before *reloader.Report) func(*reloader.Report) bool {
	return func(rep *reloader.Report) bool { return before == nil || !rep.Started.Equal(before.Started) }
}

// Status reads the remote cluster: its socket, instances (those its
// target wants, and any other loaded one) and last rollout.
func (r Remote) Status(ctx context.Context, d *sdbus.DBus, c units.Cluster) (reloader.Status, error) {
	want, err := d.Wanted(ctx, c.Target(), func(u string) bool { _, ok := c.InstanceNumber(u); return ok })
	if err != nil {
		return reloader.Status{}, err
	}
	st, err := reloader.New(reloader.Options{Systemd: d, Cluster: c}).Status(ctx, want)
	if err != nil {
		return st, err
	}
	st.LastRollout, err = r.Report(ctx, reloader.DefaultReportPath)
	// Its processes are not this machine's: a rollout that was saved
	// running is taken to run still.
	st.Assess(func(*proc.Process) bool { return true })
	return st, err
}

// HostResult is one machine's part of a fleet rollout.
type HostResult struct {
	Host   string           `json:"host"`
	Report *reloader.Report `json:"report,omitempty"`
	Error  string           `json:"error,omitempty"`
	Took   time.Duration    `json:"took_ns"`
	// Skipped: not touched, because an earlier machine failed.
	Skipped bool `json:"skipped,omitempty"`
}

// ErrHostFailed is wrapped by [RollHosts]'s error when a machine's rollout
// failed.
var ErrHostFailed = errors.New("rollout failed on a host")

// RollHosts rolls hosts in order, parallel at a time (at least 1), with
// roll. The first batch with a failure is the last: the hosts after it are
// not touched (Skipped). done is called as each host ends.
func RollHosts(ctx context.Context, hosts []string, parallel int, roll func(ctx context.Context, host string) (*reloader.Report, error), done func(HostResult)) ([]HostResult, error) {
	parallel = max(parallel, 1)
	results := make([]HostResult, len(hosts))
	var failed []string
	for start := 0; start < len(hosts); start += parallel {
		batch := hosts[start:min(start+parallel, len(hosts))]
		if len(failed) > 0 || ctx.Err() != nil {
			for i, h := range batch {
				results[start+i] = HostResult{Host: h, Skipped: true}
			}
			continue
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i, h := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				rep, err := roll(ctx, h)
				res := HostResult{Host: h, Report: rep, Took: time.Since(t0)}
				if err != nil {
					res.Error = err.Error()
				}
				mu.Lock()
				results[start+i] = res
				if err != nil {
					failed = append(failed, h)
				}
				if done != nil {
					done(res)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	switch {
	case len(failed) > 0:
		return results, fmt.Errorf("%w: %s; the hosts after it were not touched", ErrHostFailed, strings.Join(failed, ", "))
	case ctx.Err() != nil:
		return results, fmt.Errorf("%w: the hosts not yet rolled were not touched", reloader.ErrInterrupted)
	}
	return results, nil
}

// Deploy installs a package on the remote machine and returns the report
// of the rollout its installation ran: copies deb over ssh, installs it
// with apt-get (the package's postinst rolls the running cluster one
// instance at a time), and checks that the new version is installed and
// that its rollout succeeded. version is the package's version.
func (r Remote) Deploy(ctx context.Context, deb, version string) (*reloader.Report, error) {
	before, err := r.Report(ctx, reloader.DefaultReportPath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(deb)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A name the far side makes unpredictable and creates itself
	// (mktemp, O_EXCL, 0600): no other user there can place a file or a
	// symlink at it first.
	copyCmd := r.command(ctx, `f=$(mktemp --suffix=.deb /var/tmp/app-deploy.XXXXXXXXXX) && cat > "$f" && echo "$f"`)
	copyCmd.Stdin = f
	var copyErr bytes.Buffer
	copyCmd.Stderr = &copyErr
	out, err := copyCmd.Output()
	remote := strings.TrimSpace(string(out))
	if err == nil && !strings.HasPrefix(remote, "/var/tmp/app-deploy.") {
		err = fmt.Errorf("the far side named %q as the copy", remote)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: copy %s: %w: %s", r.Host, deb, err, strings.TrimSpace(copyErr.String()))
	}
	install := r.command(context.WithoutCancel(ctx), "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades -o Dpkg::Options::=--force-confold "+remote+"; s=$?; rm -f "+remote+"; exit $s")
	out, ierr := install.CombinedOutput()
	if ierr != nil {
		return nil, fmt.Errorf("%s: apt-get install %s: %w\n%s", r.Host, deb, ierr, lastLines(string(out), 15))
	}
	// One string: ssh hands the command to the remote shell.
	query := r.command(ctx, "dpkg-query -W -f '${Version}' app")
	got, err := query.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: dpkg-query: %w", r.Host, err)
	}
	if v := strings.TrimSpace(string(got)); v != version {
		return nil, fmt.Errorf("%s: app %s is installed after installing %s, not %s", r.Host, v, deb, version)
	}
	rep, err := r.Report(ctx, reloader.DefaultReportPath)
	switch {
	case err != nil:
		return nil, err
	case rep == nil || !newerThan(before)(rep):
		// The postinst rolls a running cluster only.
		return nil, fmt.Errorf("%s: %s installed, but no rollout ran (is app.target running?)", r.Host, version)
	case !rep.OK:
		return rep, fmt.Errorf("%s: %s installed, but its rollout failed: %s", r.Host, version, rep.Error)
	}
	return rep, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
