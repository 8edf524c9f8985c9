//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"example.com/app/e2e"
)

// Steady p99 under saturating load: wrk's keep-alive closed loop, ours and
// pm2 A B B A, in three settings of the kernel's scheduler. With autogroup
// on, every session is a scheduling group and systemd starts each instance
// in a session of its own, where pm2's master and workers share one; tasks
// in a cgroup of the cpu controller are not autogrouped, so the instances
// in one such cgroup (what systemd does for the instances of a slice with
// a CPU weight, where it has the controller) are one group again.
const (
	satAsIs     = "as the machine has it"
	satOneGroup = "the instances in one cpu cgroup"
	satAGOff    = "autogroup off"
)

// satRec is one A B B A block of one setting: each one's steady p99 and
// throughput, the mean of its two runs, and wrk's CPU share in the four.
type satRec struct {
	system, setting string
	rep             int
	ours, pm2       float64 // steady p99, ms
	oursRate        float64
	pm2Rate         float64
	cpu             []float64 // %
}

func (r satRec) ratio() float64 {
	if r.pm2 <= 0 {
		return 0
	}
	return r.ours / r.pm2
}

// saturated measures sys beside pm2 in each setting. A setting this
// machine cannot give is left out, with the reason in note.
func (b *bench) saturated(sys, pm2 system, rep int) (recs []satRec, note string, err error) {
	dur := 4 * time.Second
	if b.o.quick {
		dur = 2 * time.Second
	}
	block := func(setting string) error {
		r := satRec{system: sys.name, setting: setting, rep: rep}
		for _, s := range abbaOrder(sys, pm2, rep) {
			w, err := e2e.Wrk(b.ctx, e2e.WrkOptions{URL: s.url, Threads: 1, Connections: b.o.workers, Duration: dur})
			if err != nil {
				return fmt.Errorf("%s, %s: %w", s.name, setting, err)
			}
			if w.Errors > 0 {
				return fmt.Errorf("%s, %s: wrk: %d errors", s.name, setting, w.Errors)
			}
			p99 := float64(w.P99) / float64(time.Millisecond)
			if s.name == pm2.name {
				r.pm2, r.pm2Rate = r.pm2+p99/2, r.pm2Rate+w.Rate/2
			} else {
				r.ours, r.oursRate = r.ours+p99/2, r.oursRate+w.Rate/2
			}
			r.cpu = append(r.cpu, 100*w.ClientCPU)
			time.Sleep(time.Second) // let the run queue settle
		}
		fmt.Fprintf(b.w, "[rep %d] saturating keep-alive load (wrk), %s: %s p99 %.2f ms, %s p99 %.2f ms: ratio %.2f (the client's CPU share: %s)\n",
			rep, setting, sys.name, r.ours, pm2.name, r.pm2, r.ratio(), percents(r.cpu))
		recs = append(recs, r)
		return nil
	}
	if err := block(satAsIs); err != nil {
		return nil, "", err
	}
	pids := make([]int, 0, b.o.instances)
	for _, u := range e2e.Instances(b.o.instances) {
		pid, err := b.m.HostPID(b.ctx, u)
		if err != nil {
			return nil, "", err
		}
		pids = append(pids, pid)
	}
	err = inOneCPUGroup(pids, func() error { return block(satOneGroup) })
	if errors.Is(err, errNoCPUv1) {
		note, err = err.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	if b.o.quick { // the record has it; bench-quick stays under 10 minutes
		return recs, note, nil
	}
	if err := withoutAutogroup(func() error { return block(satAGOff) }); err != nil {
		return nil, "", err
	}
	return recs, note, nil
}

// cpuV1 is where a host with cgroup v1 (or the hybrid layout) has the cpu
// controller. There the bench can group processes by the cpu controller
// without moving them out of the container's own hierarchy, which systemd
// tracks its units by; under cgroup v2 it is one hierarchy, and moving
// them would take them from the container's systemd.
const cpuV1 = "/sys/fs/cgroup/cpu"

var errNoCPUv1 = errors.New("the instances in one cpu cgroup: not measured, this host has no cgroup v1 cpu hierarchy at " + cpuV1)

// inOneCPUGroup runs f with the processes pids (host PIDs, all threads)
// in one cgroup of the host's v1 cpu hierarchy made for it, then moves
// each back where it was and removes the cgroup.
func inOneCPUGroup(pids []int, f func() error) (err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(cpuV1, &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		return errNoCPUv1
	}
	if _, err := os.Stat(filepath.Join(cpuV1, "cpu.shares")); err != nil {
		return errNoCPUv1
	}
	dir := filepath.Join(cpuV1, fmt.Sprintf("app-bench-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("make a cpu cgroup: %w", err)
	}
	was := map[int]string{}
	defer func() {
		for pid, g := range was {
			if werr := writePID(g, pid); werr != nil && !errors.Is(werr, unix.ESRCH) {
				err = errors.Join(err, fmt.Errorf("move %d back to %s: %w", pid, g, werr))
			}
		}
		if rerr := os.Remove(dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the cpu cgroup: %w", rerr))
		}
	}()
	for _, pid := range pids {
		g, err := cpuCgroupOf(pid)
		if err != nil {
			return err
		}
		if err := writePID(dir, pid); err != nil {
			return fmt.Errorf("move %d into %s: %w", pid, dir, err)
		}
		was[pid] = filepath.Join(cpuV1, g)
	}
	return f()
}

// writePID moves pid, all its threads, into the cgroup dir.
func writePID(dir string, pid int) error {
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// cpuCgroupOf is pid's cgroup in the v1 cpu hierarchy.
func cpuCgroupOf(pid int) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	g, err := cpuLine(bufio.NewScanner(f))
	if err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	return g, nil
}

// cpuLine finds the v1 cpu hierarchy's path in /proc/PID/cgroup's lines
// ("4:cpu,cpuacct:/a/b").
func cpuLine(sc *bufio.Scanner) (string, error) {
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), "cpu") {
			return parts[2], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("in no cgroup of a v1 cpu hierarchy")
}

// satOf is sys's blocks of setting.
func satOf(sats []satRec, sys, setting string) []satRec {
	var out []satRec
	for _, r := range sats {
		if r.system == sys && r.setting == setting {
			out = append(out, r)
		}
	}
	return out
}

// satRows adds make bench-quick's rows: ours ÷ pm2 in each setting.
func satRows(t *headlineTable, sats []satRec, pm2 string) {
	for _, r := range sats {
		row := t.row(fmt.Sprintf("%s ÷ %s, steady p99 under saturating load (wrk, keep-alive), %s", r.system, pm2, r.setting), "A B B A", "≤ 1.00", "%.2f", atMost(1))
		row.vals = append(row.vals, r.ratio())
		row.cpu = append(row.cpu, r.cpu...)
	}
}

// satSection is the section of the full record.
func satSection(d *doc, r results) {
	if len(r.sats) == 0 {
		return
	}
	d.p("## Steady p99 under saturating load, beside pm2\n\n")
	d.p("wrk (one thread, %d keep-alive connections, 4 s: with the servers it keeps both CPUs busy), each of ours and pm2 in the order A B B A in every repetition, each one's p99 the mean of its two runs; with the kernel's scheduler %s, with the instances in one cgroup of the cpu controller, and with autogroup off:\n\n", r.o.workers, satAsIs)
	d.p("- **%s**: autogroup %s. With it on, each session is a scheduling group, the CPUs are shared between groups first, and systemd starts every service in a session of its own: each instance is a group, pm2's master and workers are one.\n", satAsIs, r.sockets.autogroup)
	d.p("- **%s**: tasks in a cgroup of the cpu controller are not autogrouped. systemd puts a unit's processes in such a cgroup when it has the controller and a unit of the slice sets a CPU weight; this container's systemd does not have it (below), so the bench moves the instances' processes into one cgroup of the host's v1 cpu hierarchy for the block, and back: the scheduling systemd would give them, the instances one group of the default weight.\n", satOneGroup)
	d.p("- **%s**: `%s` = 0 for the block, and back.\n\n", satAGOff, autogroupPath)
	d.p("| system | setting | steady p99, ours | steady p99, pm2 | ours ÷ pm2 (≤ 1.00) | throughput, ours ÷ pm2 | wrk's CPU share |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, sys := range order(r.sats, func(x satRec) string { return x.system }) {
		for _, setting := range []string{satAsIs, satOneGroup, satAGOff} {
			rs := satOf(r.sats, sys, setting)
			if len(rs) == 0 {
				continue
			}
			var cpu []float64
			for _, x := range rs {
				cpu = append(cpu, x.cpu...)
			}
			ratios := values(rs, satRec.ratio)
			d.p("| %s | %s | %s ms | %s ms | %s | %s | %s %% |\n", sys, setting,
				fx(values(rs, func(x satRec) float64 { return x.ours }), "%.2f"),
				fx(values(rs, func(x satRec) float64 { return x.pm2 }), "%.2f"),
				fx(ratios, "%.2f"),
				fx(values(rs, func(x satRec) float64 { return x.oursRate / x.pm2Rate }), "%.2f"),
				fx(cpu, "%.0f"))
		}
	}
	if r.satNote != "" {
		d.p("\n%s.\n", r.satNote)
	}
	d.WriteString(satNotes)
	d.p("\n")
}

// satGoals are the goal rows: ours' median p99 ÷ pm2's in each setting.
func satGoals(sats []satRec) []string {
	var rows []string
	for _, sys := range order(sats, func(x satRec) string { return x.system }) {
		for _, setting := range []string{satAsIs, satOneGroup, satAGOff} {
			if rs := satOf(sats, sys, setting); len(rs) > 0 {
				_, mid, _ := spread(values(rs, satRec.ratio))
				rows = append(rows, fmt.Sprintf("| steady p99 under saturating load (wrk, keep-alive) ≤ pm2's, %s | %s | %s |\n", setting, sys, verdict(mid <= 1, fmt.Sprintf("median ratio %.2f", mid))))
			}
		}
	}
	return rows
}

// satNotes says what the settings show, and why systemd's own way is not
// what is measured here; like gaps, it names mechanisms, not figures.
const satNotes = `
**What this container's systemd can do.** systemd-nspawn mounts the
host's cgroup v1 controllers read-only in the container, and systemd 252
counts a v1 controller it cannot write as absent when it starts, so here
no unit setting reaches the cpu controller. Remounting the container's
cpu hierarchy writable and re-executing systemd (tried by hand, not in the
bench) gave system.slice and init.scope cgroups of the controller but not
a slice of the instances' own, and on v2 moving processes would take them
from the container's systemd: so the bench groups the instances itself.

**What a Debian 12 server does.** Debian 12 boots with the unified
hierarchy (cgroup v2) and autogroup on. systemd enables the cpu controller
below the root as soon as one unit needs it, and Debian's user@.service
delegates it (Delegate=pids memory cpu): while a user manager runs, every
top-level slice is a cgroup of the cpu controller, so all of system.slice,
the instances and every other service, is one scheduling group, and a
load in a login session another. With no unit needing the controller, each
service is a group of its own, as in the first setting.

**What is left.** The setting decides how the CPUs are shared between
groups; the rest of the p99 is the worker's own. The Node worker is the
same file under both managers, so its rows compare the managers; the Go
worker's compare the workers as well. By hand, in a throwaway container
(.scratch, not committed), the Go worker's p99 stayed well above pm2's
with GOMAXPROCS=1, with the garbage collector off or at GOGC=400, with its
connection caps off and with Go's own accept, and so did a bare net/http
server's; perf sched showed each instance's work passing between five
threads even with GOMAXPROCS=1, each hand-over a wake-up that waits for a
CPU while the load generator holds one. A single-threaded event loop
(Node's) has no such hand-over.
`
