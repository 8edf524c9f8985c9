package reloader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"example.com/app/units"
)

// Description is what `app-reloader describe` shows of one instance: its
// state as in status, then how systemd runs it.
type Description struct {
	Unit
	Description string   `json:"description"`
	UnitFile    string   `json:"unit_file"`
	DropIns     []string `json:"drop_ins"`
	// Command is the main process's command line (ExecStart=).
	Command          []string `json:"command"`
	WorkingDirectory string   `json:"working_directory,omitempty"`
	// User is the account it runs as: User=, a dynamic one when
	// DynamicUser is set.
	User        string   `json:"user"`
	DynamicUser bool     `json:"dynamic_user"`
	Environment []string `json:"environment"`
	// EnvironmentFiles are the files systemd reads more of its environment
	// from when it starts it (EnvironmentFile=): app.toml's [env] table,
	// readable by root only.
	EnvironmentFiles []string `json:"environment_files,omitempty"`
	// FileEnvironment is what those files set, NAME=value, with every
	// value masked unless asked for (describe -show-env); FileEnvironmentError
	// says why it could not be read.
	FileEnvironment      []string `json:"file_environment,omitempty"`
	FileEnvironmentError string   `json:"file_environment_error,omitempty"`
	// Sockets are the sockets it serves, with their addresses.
	Sockets []Unit `json:"sockets"`
	Limits  Limits `json:"limits"`
	// Recent are systemd's last messages about it: starts, stops, exits,
	// scheduled restarts.
	Recent []JournalLine `json:"recent"`
	// RecentError says why Recent could not be read (the journal is for
	// root and the adm and systemd-journal groups).
	RecentError string `json:"recent_error,omitempty"`
}

// Limits are an instance's resource limits and timeouts; a zero value
// means none.
type Limits struct {
	MemoryMax    uint64        `json:"memory_max_bytes,omitempty"`
	TasksMax     uint64        `json:"tasks_max,omitempty"`
	NoFile       uint64        `json:"nofile,omitempty"`
	StartTimeout time.Duration `json:"start_timeout_ns"`
	StopTimeout  time.Duration `json:"stop_timeout_ns"`
	Restart      string        `json:"restart"`
	RestartDelay time.Duration `json:"restart_delay_ns"`
}

// JournalLine is one journal entry.
type JournalLine struct {
	Time     time.Time `json:"time"`
	Unit     string    `json:"unit"`
	PID      int       `json:"pid,omitempty"`
	Priority int       `json:"priority"`
	Message  string    `json:"message"`
}

// Describe reads an instance's unit, command, environment, limits and
// systemd's recent messages about it; sockets are the sockets it serves.
func (d *DBus) Describe(ctx context.Context, unit string, sockets []string) (Description, error) {
	u, up, sp, err := d.unitProps(ctx, unit)
	if err != nil {
		return Description{}, err
	}
	out := Description{Unit: u}
	if s := str(up["LoadState"]); s != "loaded" {
		return Description{}, fmt.Errorf("describe %s: %w (load state %q)", unit, ErrNoSuchInstance, s)
	}
	out.Description = str(up["Description"])
	out.UnitFile = str(up["FragmentPath"])
	out.DropIns, _ = up["DropInPaths"].([]string)
	// ExecStart is a(sasbttttuii): path, argv, ignore-failure, timestamps, pid, code, status.
	if ex, ok := sp["ExecStart"].([][]any); ok && len(ex) > 0 && len(ex[0]) > 1 {
		out.Command, _ = ex[0][1].([]string)
	}
	out.WorkingDirectory = str(sp["WorkingDirectory"])
	out.User = str(sp["User"])
	out.DynamicUser, _ = sp["DynamicUser"].(bool)
	out.Environment, _ = sp["Environment"].([]string)
	// EnvironmentFiles is a(sb): path, whether a missing file is fine.
	if files, ok := sp["EnvironmentFiles"].([][]any); ok {
		for _, f := range files {
			if len(f) == 2 {
				out.EnvironmentFiles = append(out.EnvironmentFiles, str(f[0]))
			}
		}
	}
	lim := &out.Limits
	lim.MemoryMax = limit(sp["MemoryMax"])
	lim.TasksMax = limit(sp["TasksMax"])
	lim.NoFile = limit(sp["LimitNOFILE"])
	lim.StartTimeout = usec(sp["TimeoutStartUSec"])
	lim.StopTimeout = usec(sp["TimeoutStopUSec"])
	lim.Restart = str(sp["Restart"])
	lim.RestartDelay = usec(sp["RestartUSec"])
	for _, s := range sockets {
		su, err := d.Unit(ctx, s)
		if err != nil {
			return Description{}, err
		}
		out.Sockets = append(out.Sockets, su)
	}
	if out.Recent, err = recentEvents(ctx, unit, 10); err != nil {
		// The journal is for root, adm and systemd-journal: the rest of
		// the description is anyone's.
		out.RecentError = err.Error()
	}
	return out, nil
}

// Masked stands for a value describe does not show unless asked.
const Masked = "••••••"

// ReadFileEnvironment fills d.FileEnvironment from d.EnvironmentFiles,
// each value masked unless show is set. Only root can read the files;
// anyone else gets FileEnvironmentError.
func (d *Description) ReadFileEnvironment(show bool) {
	var errs []string
	for _, path := range d.EnvironmentFiles {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrPermission) {
			errs = append(errs, path+": readable by root only")
			continue
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		vars, err := units.ReadEnvironmentFile(string(b))
		if err != nil {
			errs = append(errs, path+": "+err.Error())
			continue
		}
		for _, kv := range vars {
			v := Masked
			if show {
				v = kv[1]
			}
			d.FileEnvironment = append(d.FileEnvironment, kv[0]+"="+v)
		}
	}
	d.FileEnvironmentError = strings.Join(errs, "; ")
}

// ErrNoSuchInstance is returned for an instance systemd does not know.
var ErrNoSuchInstance = errors.New("no such instance")

// limit reads a uint64 limit; systemd's "infinity" is the largest uint64.
func limit(v any) uint64 {
	n, _ := v.(uint64)
	if n == math.MaxUint64 {
		return 0
	}
	return n
}

func usec(v any) time.Duration {
	n, _ := v.(uint64)
	if n == math.MaxUint64 {
		return 0
	}
	return time.Duration(n) * time.Microsecond
}

// lifecycle matches systemd's messages about an instance's life.
var lifecycle = regexp.MustCompile(`^(Start|Stop|Deactivated|Failed|Main process exited|Scheduled restart|Killing|Condition check|Skipped|.*[Rr]estart|.*timed out)`)

// recentEvents is systemd's (PID 1's) last n lifecycle messages about a
// unit, through journalctl.
func recentEvents(ctx context.Context, unit string, n int) ([]JournalLine, error) {
	cmd := exec.CommandContext(ctx, "journalctl", "--no-pager", "-q", "-o", "json", "-n", "300", "UNIT="+unit, "_PID=1")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("journalctl UNIT=%s: %w%s", unit, err, stderrOf(err))
	}
	var lines []JournalLine
	for _, l := range strings.Split(string(out), "\n") {
		e, ok := parseEntry([]byte(l))
		if !ok {
			continue
		}
		msg := strings.TrimPrefix(e.Message, unit+": ")
		if lifecycle.MatchString(msg) {
			e.Message = msg
			lines = append(lines, e)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// parseEntry reads one line of `journalctl -o json`.
func parseEntry(line []byte) (JournalLine, bool) {
	var raw map[string]json.RawMessage
	if len(line) == 0 || json.Unmarshal(line, &raw) != nil {
		return JournalLine{}, false
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
	e := JournalLine{Message: field("MESSAGE"), Unit: field("_SYSTEMD_UNIT")}
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

// WriteDescription prints a description for a person.
func WriteDescription(w io.Writer, d Description, now time.Time, color bool) {
	kv := &table{}
	row := func(k, v string, c ...string) {
		col := ""
		if len(c) > 0 {
			col = c[0]
		}
		kv.add(cell{text: k, color: bold}, cell{text: v, color: col})
	}
	row("unit", d.Name+orEmpty(" ("+d.Description+")", d.Description))
	row("state", stateText(d.Unit), stateColor(d.Unit))
	row("pid", pid(d.MainPID))
	row("uptime", uptime(d.Unit, now))
	row("restarts", fmt.Sprintf("%d (by systemd since the unit was loaded)", d.NRestarts))
	row("status", d.StatusText)
	row("command", shellJoin(d.Command))
	row("cwd", orDash(d.WorkingDirectory))
	user := orDash(d.User)
	if d.DynamicUser {
		user += " (dynamic)"
	}
	row("user", user)
	acct := ""
	if d.Accounting == AccountingProcess {
		acct = " (the main process's: systemd has no accounting here)"
	}
	row("memory", fmt.Sprintf("%s of %s%s", size(d.Memory), orNone(d.Limits.MemoryMax, size), acct))
	row("cpu", cpu(d.CPU)+acct)
	row("tasks max", orNone(d.Limits.TasksMax, func(n uint64) string { return strconv.FormatUint(n, 10) }))
	row("open files max", orNone(d.Limits.NoFile, func(n uint64) string { return strconv.FormatUint(n, 10) }))
	row("timeouts", fmt.Sprintf("start %s, stop %s", orInf(d.Limits.StartTimeout), orInf(d.Limits.StopTimeout)))
	row("restart", fmt.Sprintf("%s, after %s", d.Limits.Restart, d.Limits.RestartDelay))
	for i, s := range d.Sockets {
		k := ""
		if i == 0 {
			k = "sockets"
		}
		row(k, fmt.Sprintf("%s %s %s", s.Name, s.ActiveState, strings.Join(s.Listen, ", ")))
	}
	row("unit file", d.UnitFile)
	for i, p := range d.DropIns {
		k := ""
		if i == 0 {
			k = "drop-ins"
		}
		row(k, p)
	}
	kv.write(w, color)
	fmt.Fprintln(w, paint(color, bold, "environment"))
	if len(d.Environment)+len(d.FileEnvironment) == 0 && d.FileEnvironmentError == "" {
		fmt.Fprintln(w, "  (none)")
	}
	for _, e := range append(append([]string{}, d.Environment...), d.FileEnvironment...) {
		fmt.Fprintf(w, "  %s\n", printable(e))
	}
	if len(d.FileEnvironment) > 0 && strings.Contains(strings.Join(d.FileEnvironment, "\n"), Masked) {
		fmt.Fprintln(w, paint(color, dim, "  (values from "+strings.Join(d.EnvironmentFiles, ", ")+" masked: describe -show-env shows them)"))
	}
	if d.FileEnvironmentError != "" {
		fmt.Fprintln(w, paint(color, dim, "  (and more from "+printable(d.FileEnvironmentError)+")"))
	}
	fmt.Fprintln(w, paint(color, bold, "recent events")+" (systemd's, newest last; app-reloader logs "+strings.TrimSuffix(d.Name, ".service")+" for the instance's own)")
	switch {
	case d.RecentError != "":
		fmt.Fprintf(w, "  (%s)\n", printable(d.RecentError))
	case len(d.Recent) == 0:
		fmt.Fprintln(w, "  (none in the journal)")
	}
	for _, e := range d.Recent {
		c := ""
		if e.Priority <= 4 {
			c = red
		}
		fmt.Fprintf(w, "  %s  %s\n", e.Time.Format("2006-01-02 15:04:05"), paint(color, c, printable(e.Message)))
	}
}

func orEmpty(s, cond string) string {
	if cond == "" {
		return ""
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(n uint64, f func(uint64) string) string {
	if n == 0 {
		return "no limit"
	}
	return f(n)
}

func orInf(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

// shellJoin writes a command line so that it can be pasted into a shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
