package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Process identifies a running process across PID reuse: its PID, its
// start time (clock ticks after boot) and the boot it runs in.
type Process struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start_ticks"`
	Boot  string `json:"boot_id"`
}

// This is the calling process; nil where /proc cannot tell.
func This() *Process {
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

// Usage is a process's CPU time and resident memory.
func Usage(pid uint32) (cpu time.Duration, rss uint64, err error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, 0, err
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseUint(f[12], 10, 64) // field 15
	pages, _ := strconv.ParseUint(f[21], 10, 64) // field 24, rss
	// USER_HZ is 100 on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond, pages * uint64(os.Getpagesize()), nil
}

// MemAvailable is the machine's available memory (/proc/meminfo).
func MemAvailable() (uint64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("available memory: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("available memory: %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("available memory: no MemAvailable in /proc/meminfo")
}
