package view

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"example.com/app/reloader"
)

// WriteDescription prints a description for a person.
func WriteDescription(w io.Writer, d reloader.Description, now time.Time, color bool) {
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
	if d.Accounting == reloader.AccountingProcess {
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
	if len(d.FileEnvironment) > 0 && strings.Contains(strings.Join(d.FileEnvironment, "\n"), reloader.Masked) {
		fmt.Fprintln(w, paint(color, dim, "  (values from "+strings.Join(d.EnvironmentFiles, ", ")+" masked: describe --show-env shows them)"))
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
