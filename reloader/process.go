package reloader

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Process identifies a running process across PID reuse: its PID, its
// start time (clock ticks after boot) and the boot it runs in.
type Process struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start_ticks"`
	Boot  string `json:"boot_id"`
}

// ThisProcess is the calling process; nil where /proc cannot tell.
func ThisProcess() *Process {
	p, err := processOf(os.Getpid())
	if err != nil {
		return nil
	}
	return p
}

// procStat is /proc/PID/stat from its field 3 (state) on, so that f[i] is
// field i+3: the command name before it, in parentheses, may hold spaces.
// It has at least 22 fields (up to rss, field 24).
func procStat(pid uint32) ([]string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

func processOf(pid int) (*Process, error) {
	f, err := procStat(uint32(pid))
	if err != nil {
		return nil, err
	}
	start, err := strconv.ParseUint(f[19], 10, 64) // field 22, starttime
	if err != nil {
		return nil, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil, err
	}
	return &Process{PID: pid, Start: start, Boot: strings.TrimSpace(string(boot))}, nil
}

// Alive reports whether the process still runs: same PID, started at the
// same time, in this boot.
func (p *Process) Alive() bool {
	if p == nil {
		return false
	}
	now, err := processOf(p.PID)
	return err == nil && *now == *p
}

// Interrupted reports whether the rollout of this report never ended: it
// was saved while running, and the process running it is gone (killed,
// or the machine rebooted).
func (rep *Report) Interrupted() bool {
	return rep.Running && !rep.Process.Alive()
}
