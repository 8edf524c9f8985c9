//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/app/reloader/journal"
)

// hostEnablements are the host's own enabled units (PostgreSQL, timers,
// gettys…). They are removed from the overlay so that the container boots
// the real multi-user.target, with only what a test installs and enables.
var hostEnablements = []string{"multi-user.target.wants", "getty.target.wants", "timers.target.wants", "sysinit.target.wants"}

// hostOnly are files of this VM image that a Debian system does not have:
// a policy-rc.d that forbids every service start (as in container images)
// would keep maintainer scripts from starting anything.
var hostOnly = []string{"usr/sbin/policy-rc.d"}

// dirPrefix names the temporary directories of test beds, so a later run
// can find what an interrupted one left behind.
const dirPrefix = "app-e2e-"

// Machine is a throwaway real systemd: systemd-nspawn booting an overlay of
// this machine's root, writable on a tmpfs. It shares the host's network
// namespace, so its sockets are reachable on the host's loopback.
type Machine struct {
	dir    string // tmpfs mount holding upper, work, root, console.log
	Root   string // the container's root as the host sees it
	nspawn *exec.Cmd
	exited chan struct{}
	leader int // the container's PID 1, as a host PID
	// NetNS, if set before Start, is the network namespace the container
	// runs in instead of this machine's.
	NetNS *NetNS
}

// Boot mounts a fresh overlay and boots systemd in it. It returns a clear
// error when a prerequisite is missing (root, systemd-nspawn, nsenter);
// nothing is skipped.
func Boot(ctx context.Context) (*Machine, error) {
	return BootIn(ctx, nil)
}

// BootIn is Boot in a network namespace of its own (nil: this machine's).
func BootIn(ctx context.Context, ns *NetNS) (*Machine, error) {
	if err := Prerequisites(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("test bed: %w", err)
	}
	m := &Machine{dir: dir, Root: filepath.Join(dir, "root"), NetNS: ns}
	if err := m.mount(); err != nil {
		m.Close()
		return nil, err
	}
	var remove []string
	for _, w := range hostEnablements {
		remove = append(remove, filepath.Join(m.Root, "etc/systemd/system", w))
	}
	for _, f := range hostOnly {
		remove = append(remove, filepath.Join(m.Root, f))
	}
	for _, p := range remove {
		if err := os.RemoveAll(p); err != nil {
			m.Close()
			return nil, fmt.Errorf("test bed: %w", err)
		}
	}
	if err := m.Start(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Prerequisites says what this machine lacks to run a test bed.
func Prerequisites() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (run the e2e tests as root)")
	}
	for _, bin := range []string{"systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" (apt-get install systemd-container util-linux)")
		}
	}
	// The container is an overlay of this machine: what it runs, this
	// machine must have installed. polkitd decides the deploy role.
	if _, err := os.Stat("/usr/lib/polkit-1/polkitd"); err != nil {
		missing = append(missing, "polkitd (apt-get install polkitd)")
	}
	// The terminal views are tested in a real terminal (tmux); the APT
	// repository is built with Debian's tools (apt-ftparchive, gpg).
	// Machines in namespaces of their own (ip), reached over ssh.
	for bin, pkg := range map[string]string{"tmux": "tmux", "apt-ftparchive": "apt-utils", "gpg": "gnupg", "ip": "iproute2", "ssh": "openssh-client", "ssh-keygen": "openssh-client"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" (apt-get install "+pkg+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("e2e test bed needs: %s", strings.Join(missing, "; "))
	}
	return nil
}

func (m *Machine) mount() error {
	if err := syscall.Mount("tmpfs", m.dir, "tmpfs", 0, "mode=0755,size=4g"); err != nil {
		return fmt.Errorf("test bed: mount tmpfs on %s: %w", m.dir, err)
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(m.dir, d), 0o755); err != nil {
			return fmt.Errorf("test bed: %w", err)
		}
	}
	opts := fmt.Sprintf("lowerdir=/,upperdir=%s/upper,workdir=%s/work", m.dir, m.dir)
	if err := syscall.Mount("overlay", m.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("test bed: mount overlay of / on %s: %w", m.Root, err)
	}
	return nil
}

// Start boots systemd on the machine's root and waits until it is up. After
// Stop it boots the same root again: a reboot.
func (m *Machine) Start(ctx context.Context) error {
	console, err := os.OpenFile(filepath.Join(m.dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("test bed: %w", err)
	}
	defer console.Close()
	args := []string{"-q", "--keep-unit", "--register=no", "-D", m.Root,
		// Allowed on a Debian host, not by systemd-nspawn's own filter,
		// which the container's services inherit: the two calls
		// `app-reloader steer` makes (socket = "reuseport").
		"--system-call-filter=pidfd_getfd bpf"}
	if m.NetNS != nil {
		args = append(args, "--network-namespace-path="+m.NetNS.Path())
	}
	args = append(args, "-b", "--", "systemd.unit=multi-user.target", "systemd.firstboot=off", "systemd.default_timeout_stop_sec=10s")
	cmd := exec.Command("systemd-nspawn", args...)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("test bed: start systemd-nspawn: %w", err)
	}
	m.nspawn, m.exited, m.leader = cmd, make(chan struct{}), 0
	go func() { _ = cmd.Wait(); close(m.exited) }()
	// Recorded so a later run can clean up after an interrupted one.
	_ = os.WriteFile(filepath.Join(m.dir, "nspawn.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for m.leader == 0 {
		if pid := childNamed(cmd.Process.Pid, "systemd"); pid > 0 {
			m.leader = pid
			// Recorded too: killing nspawn alone leaves its container
			// running, reparented to this machine's init.
			_ = os.WriteFile(filepath.Join(m.dir, "leader.pid"), []byte(strconv.Itoa(pid)), 0o644)
			break
		}
		select {
		case <-m.exited:
			return fmt.Errorf("test bed: systemd-nspawn exited during boot; console:\n%s", m.Console())
		case <-ctx.Done():
			return fmt.Errorf("test bed: no systemd in the container: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	for {
		out, err := m.Run(ctx, "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(out)
		switch {
		case err == nil || state == "degraded":
			return nil
		case (strings.Contains(state, "Failed to connect to bus") || state == "offline") && ctx.Err() == nil:
			// PID 1 runs but has not opened its bus yet, or not even
			// created /run/systemd/system, which systemctl takes for "no
			// systemd here" (seen in CI: "offline").
			time.Sleep(50 * time.Millisecond)
		default:
			return fmt.Errorf("test bed: boot: system is %q: %w; console:\n%s", state, err, m.Console())
		}
	}
}

// childNamed finds a child of pid whose command is name.
func childNamed(pid int, name string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		c, _ := strconv.Atoi(f)
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			return c
		}
	}
	return 0
}

// Run runs a command inside the container (all its namespaces) and returns
// its combined output.
func (m *Machine) Run(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	err := m.command(ctx, &out, args...).Run()
	if err != nil {
		return out.String(), fmt.Errorf("in container: %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// Usage is what a command run in the container cost, its own and its
// waited-for children's (wait4's accounting, through nsenter).
type Usage struct {
	CPU    time.Duration // user and system time
	MaxRSS int64         // peak resident memory of the largest of them, bytes
}

// RunUsage is Run, with what the command cost.
func (m *Machine) RunUsage(ctx context.Context, args ...string) (string, Usage, error) {
	var out bytes.Buffer
	cmd := m.command(ctx, &out, args...)
	err := cmd.Run()
	var u Usage
	if ps := cmd.ProcessState; ps != nil {
		u.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if err != nil {
		return out.String(), u, fmt.Errorf("in container: %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), u, nil
}

// Stream runs a command inside the container, writing its output to w as
// it comes.
func (m *Machine) Stream(ctx context.Context, w io.Writer, args ...string) error {
	if err := m.command(ctx, w, args...).Run(); err != nil {
		return fmt.Errorf("in container: %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// JournalReader reads the container's journal.
func (m *Machine) JournalReader() journal.Reader {
	return journal.Reader{Command: func(ctx context.Context, args ...string) *exec.Cmd {
		return m.command(ctx, nil, append([]string{"journalctl"}, args...)...)
	}}
}

// command prepares a command inside the container writing to w (nil: its
// output is the caller's to take).
func (m *Machine) command(ctx context.Context, w io.Writer, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(m.leader), "-a", "--"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER="}
	if w != nil {
		cmd.Stdout, cmd.Stderr = w, w
	}
	return cmd
}

// Stop powers the container off, and cuts its power if that takes longer
// than a few seconds. The root stays mounted for Start.
func (m *Machine) Stop() {
	if m.nspawn == nil {
		return
	}
	select {
	case <-m.exited:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = m.command(ctx, &bytes.Buffer{}, "systemctl", "--no-block", "poweroff").Run()
		cancel()
		select {
		case <-m.exited:
		case <-time.After(15 * time.Second):
			// Our container's init, by its PID: the kernel then kills
			// every process in its PID namespace, and nspawn exits. Killing
			// nspawn alone would leave the container running, and its
			// processes in the control groups the next machine uses.
			if m.leader > 0 {
				_ = syscall.Kill(m.leader, syscall.SIGKILL)
			}
			select {
			case <-m.exited:
			case <-time.After(10 * time.Second):
				_ = m.nspawn.Process.Kill() // our nspawn, by its PID
				<-m.exited
			}
		}
	}
	m.nspawn, m.leader = nil, 0
}

// Close stops the container and removes its mounts and files. It is safe
// to call more than once, and on a partly set up machine.
func (m *Machine) Close() {
	m.Stop()
	teardown(m.dir)
}

func teardown(dir string) {
	_ = syscall.Unmount(filepath.Join(dir, "root"), syscall.MNT_DETACH)
	_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	_ = os.RemoveAll(dir)
}

// Console is what the container printed on its console.
func (m *Machine) Console() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "console.log"))
	return string(b)
}

// Journal returns the container's journal for the app units.
func (m *Machine) Journal(ctx context.Context) string {
	out, err := m.Run(ctx, "journalctl", "--no-pager", "-o", "short-precise", "-n", "300",
		"-u", "app*", "-u", "app-reload.service", "_PID=1")
	if err != nil {
		return out + "\n(journalctl: " + err.Error() + ")"
	}
	return out
}

// CleanStale removes what interrupted runs left behind: it kills their
// systemd-nspawn (the PID they recorded, if it still runs nspawn on that
// directory) and unmounts their directories.
func CleanStale() error {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, dir := range dirs {
		// The container's init first (its PID namespace dies with it),
		// if that PID still runs a systemd rooted in this directory.
		if b, err := os.ReadFile(filepath.Join(dir, "leader.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
			ours, _ := os.Readlink("/proc/self/ns/pid")
			// Its root reads "/" once the overlay was lazily unmounted; a
			// PID namespace of its own tells it from a systemd of this
			// machine's (a user's manager) that took the PID since.
			if pid > 1 && strings.TrimSpace(string(comm)) == "systemd" && ns != ours && (root == filepath.Join(dir, "root") || root == "/") {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
					errs = append(errs, fmt.Errorf("kill stale container %d: %w", pid, err))
				}
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "nspawn.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if pid > 0 && bytes.Contains(cmdline, []byte("systemd-nspawn")) && bytes.Contains(cmdline, []byte(dir)) {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
					errs = append(errs, fmt.Errorf("kill stale nspawn %d: %w", pid, err))
				}
				for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}
		teardown(dir)
	}
	if err := cleanStaleNetNS(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
