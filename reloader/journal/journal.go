package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Messages systemd's manager logs about a unit, by their MESSAGE_ID (see
// systemd's catalog, `journalctl --list-catalog`).
const (
	UnitStarting         = "7d4958e842da4a758f6c1cdc7b36dcc5"
	UnitStarted          = "39f53479d3a045ac8e11786248231fbf"
	UnitStopping         = "de5b426a63be47a7b6ac3eaac82e2f6f"
	UnitStopped          = "9d1aaa27d60140bd96365438aad20286"
	UnitFailed           = "be02cf6855d2428ba40df7e9d022f03d"
	UnitRestartScheduled = "5eb03494b6585af5e4e0c1b6ec5d7d9c"
	UnitProcessExit      = "98e322203f7a4ed290d09fe03c09fe15"
	UnitSuccess          = "7ad2d189f7e94e70a38c781354912448"
	UnitFailureResult    = "d9b373ed55a64feb8242e02dbe79a49c"
	UnitSkipped          = "0e4284a0caca4bfc81c0bb6786972673"
	UnitResources        = "ae8f7b866b0347b9af31fe1c80b127c0"
)

// Entry is one journal entry.
type Entry struct {
	Time     time.Time `json:"time"`
	Unit     string    `json:"unit"`
	PID      int       `json:"pid,omitempty"`
	Priority int       `json:"priority"`
	Message  string    `json:"message"`
	// MessageID is systemd's catalog ID of the message, if it has one.
	MessageID string `json:"message_id,omitempty"`
}

// Reader runs journalctl.
type Reader struct {
	// Command makes the journalctl command with args; nil runs journalctl
	// on this machine.
	Command func(ctx context.Context, args ...string) *exec.Cmd
}

func (r Reader) command(ctx context.Context, args ...string) *exec.Cmd {
	if r.Command == nil {
		return exec.CommandContext(ctx, "journalctl", args...)
	}
	return r.Command(ctx, args...)
}

// Tail returns up to n of a unit's last log lines, as journalctl shows
// them (short-precise: time, host, process, message).
func (r Reader) Tail(ctx context.Context, unit string, n int) ([]string, error) {
	out, err := r.command(ctx, "--no-pager", "-q", "-o", "short-precise", "-n", strconv.Itoa(n), "-u", unit).Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl -u %s: %w%s", unit, err, stderrOf(err))
	}
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// Options say which entries [Reader.Read] reads.
type Options struct {
	// Units are unit names or globs (journalctl -u), such as
	// "app@*.service".
	Units []string
	// Lines is how many of the last entries to read first (journalctl -n);
	// a negative count reads every entry selected.
	Lines int
	// Follow keeps reading new entries until ctx ends (journalctl -f).
	Follow bool
	// Since, if set, starts at that time, as journalctl --since takes it.
	Since string
	// Priority, if set, selects entries of that priority or more urgent
	// (journalctl -p: "err", "3", or a range "warning..err").
	Priority string
	// Matches are field matches, such as "_PID=1" or "UNIT=app@0.service".
	Matches []string
}

// Read calls each for every entry the options select, in time order, and
// returns when they are read, or with Follow when ctx ends.
func (r Reader) Read(ctx context.Context, opt Options, each func(Entry) error) error {
	args := []string{"--no-pager", "-q", "-o", "json"}
	if opt.Lines >= 0 {
		args = append(args, "-n", strconv.Itoa(opt.Lines))
	}
	if opt.Follow {
		args = append(args, "-f")
	}
	if opt.Since != "" {
		args = append(args, "--since", opt.Since)
	}
	if opt.Priority != "" {
		args = append(args, "-p", opt.Priority)
	}
	for _, u := range opt.Units {
		args = append(args, "-u", u)
	}
	args = append(args, opt.Matches...)
	cmd := r.command(ctx, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var eachErr error
	for sc.Scan() {
		e, ok := ParseEntry(sc.Bytes())
		if !ok || eachErr != nil {
			continue
		}
		eachErr = each(e)
	}
	err = cmd.Wait()
	switch {
	case eachErr != nil:
		return eachErr
	case ctx.Err() != nil && opt.Follow:
		return nil // followed until told to stop
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("journalctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return fmt.Errorf("journalctl: %w", err)
	}
	return nil
}

// Priorities are syslog's priorities by name, most urgent first: a
// priority's number is its index.
var Priorities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// CheckPriority checks a priority as journalctl -p takes it: a name, a
// number from 0 to 7, or a range of them (FROM..TO).
func CheckPriority(p string) error {
	from, to, isRange := strings.Cut(p, "..")
	for _, one := range []string{from, to} {
		if !isRange && one == to {
			continue
		}
		if n, err := strconv.Atoi(one); err == nil && n >= 0 && n <= 7 {
			continue
		}
		if !slices.Contains(Priorities, one) {
			return fmt.Errorf("priority %q: want one of %s, a number from 0 to 7, or a range such as warning..err", p, strings.Join(Priorities, ", "))
		}
	}
	return nil
}

// Lifecycle is systemd's own record of a unit's life, its last n entries:
// what the manager (PID 1) logged about it with a catalog MESSAGE_ID
// (starting, started, stopping, stopped, failed, a process's exit, a
// scheduled restart, a skipped start) or at warning priority or worse
// (timeouts, kills).
func (r Reader) Lifecycle(ctx context.Context, unit string, n int) ([]Entry, error) {
	var out []Entry
	err := r.Read(ctx, Options{Lines: 300, Matches: []string{"UNIT=" + unit, "_PID=1"}}, func(e Entry) error {
		if (e.MessageID != "" && e.MessageID != UnitResources) || e.Priority <= 4 {
			e.Message = strings.TrimPrefix(e.Message, unit+": ")
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// ParseEntry reads one line of `journalctl -o json`.
func ParseEntry(line []byte) (Entry, bool) {
	var raw map[string]json.RawMessage
	if len(line) == 0 || json.Unmarshal(line, &raw) != nil {
		return Entry{}, false
	}
	field := func(k string) string {
		v := raw[k]
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		// Non-UTF-8 or binary values come as an array of bytes.
		var b []byte
		var ints []int
		if json.Unmarshal(v, &ints) == nil {
			for _, i := range ints {
				b = append(b, byte(i))
			}
			return strings.ToValidUTF8(string(b), "\uFFFD")
		}
		return ""
	}
	e := Entry{Message: field("MESSAGE"), Unit: field("_SYSTEMD_UNIT"), MessageID: field("MESSAGE_ID")}
	if e.Unit == "" || e.Unit == "init.scope" {
		e.Unit = field("UNIT")
	}
	us, _ := strconv.ParseInt(field("__REALTIME_TIMESTAMP"), 10, 64)
	e.Time = time.UnixMicro(us)
	e.PID, _ = strconv.Atoi(field("_PID"))
	e.Priority = 6
	if p, err := strconv.Atoi(field("PRIORITY")); err == nil {
		e.Priority = p
	}
	return e, true
}

// stderrOf is what a failed command said on stderr.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
