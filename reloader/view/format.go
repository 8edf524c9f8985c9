package view

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"example.com/app/reloader"
)

// WriteEvent prints one line of rollout progress.
func WriteEvent(w io.Writer, e reloader.Event) {
	fmt.Fprintf(w, "[%d/%d] %s: %s\n", e.Index, e.Total, e.Unit, eventText(e))
}

// eventText says what an event means for its instance.
func eventText(e reloader.Event) string {
	switch {
	case !e.Done && e.Action == reloader.ActionRestart:
		return fmt.Sprintf("restarting (pid %d)…", e.OldPID)
	case !e.Done && e.Action == reloader.ActionSurge:
		return "starting the spare…"
	case !e.Done:
		return map[string]string{reloader.ActionStart: "starting", reloader.ActionStop: "stopping"}[e.Action] + "…"
	case e.Error != "":
		return fmt.Sprintf("FAILED after %s: %s", round(e.Took), printable(e.Error))
	case e.Action == reloader.ActionStop && e.OldPID == 0:
		return "not running"
	case e.Action == reloader.ActionStop:
		return fmt.Sprintf("stopped pid %d in %s", e.OldPID, round(e.Took))
	case e.Action == reloader.ActionSurge:
		return fmt.Sprintf("spare ready as pid %d in %s%s; restarting the others", e.NewPID, round(e.Ready), held(e.Step))
	case e.Action == reloader.ActionStart:
		return fmt.Sprintf("started, ready as pid %d in %s%s", e.NewPID, round(e.Ready), held(e.Step))
	default:
		return fmt.Sprintf("ready, pid %d → %d in %s%s", e.OldPID, e.NewPID, round(e.Ready), held(e.Step))
	}
}

// held says how long an instance was watched after it was ready.
func held(s reloader.Step) string {
	if h := s.Took - s.Ready; h >= time.Millisecond {
		return fmt.Sprintf(", stayed up %s", round(h))
	}
	return ""
}

// WriteReport prints the summary of a rollout.
func WriteReport(w io.Writer, rep reloader.Report) {
	what := "rollout"
	if rep.Scale {
		what = "scale"
	}
	if rep.Failure != nil {
		fmt.Fprintf(w, "\n%s FAILED at %s: %s\n", what, rep.Failure.Unit, printable(rep.Failure.Reason))
		if rep.Failure.Cause != "" {
			fmt.Fprintf(w, "cause: %s\n", printable(rep.Failure.Cause))
		}
		for _, h := range rep.Failure.Hints {
			fmt.Fprintf(w, "hint: %s\n", printable(h))
		}
		if len(rep.Failure.Journal) > 0 {
			fmt.Fprintf(w, "last log lines of %s:\n", rep.Failure.Unit)
			for _, l := range rep.Failure.Journal {
				fmt.Fprintf(w, "  %s\n", printable(l))
			}
		}
		if rep.Failure.Spare {
			fmt.Fprintln(w, "caught on the spare: no instance was touched; the running ones keep serving.")
		} else {
			fmt.Fprintln(w, "instances after it were not touched.")
		}
		if rep.Failure.SocketStopped {
			fmt.Fprintf(w, "%s was stopped with its socket %s: the kernel sends new connections to the other instances until the next reload.\n", rep.Failure.Unit, rep.Failure.Socket)
		}
		return
	}
	if rep.OK {
		fmt.Fprintf(w, "\n%s done: %d instances in %s\n", what, rep.Instances, round(rep.Took))
		if rep.SurgeNote != "" {
			fmt.Fprintf(w, "without a spare: %s\n", rep.SurgeNote)
		}
	} else {
		fmt.Fprintf(w, "\n%s NOT complete after %s: %s\n", what, round(rep.Took), printable(rep.Error))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tACTION\tOLD PID\tNEW PID\tTOOK")
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Unit, s.Action, pid(s.OldPID), pid(s.NewPID), round(s.Took))
	}
	tw.Flush()
}

// WriteStatus prints the cluster as `pm2 list` would; color paints the
// states (for a terminal).
func WriteStatus(w io.Writer, st reloader.Status, now time.Time, color bool) {
	fmt.Fprintf(w, "socket %s: %s %s\n", st.Socket.Name,
		paint(color, stateColor(st.Socket), st.Socket.ActiveState+"/"+st.Socket.SubState), strings.Join(st.Socket.Listen, ", "))
	if len(st.Sockets) > 0 {
		own := make([]string, len(st.Sockets))
		for i, u := range st.Sockets {
			own[i] = u.Name + " " + paint(color, stateColor(u), u.ActiveState)
		}
		fmt.Fprintf(w, "instance sockets (SO_REUSEPORT): %s\n", strings.Join(own, ", "))
		switch {
		case len(st.Steered) > 0:
			fmt.Fprintf(w, "new connections go to: %s\n", joinInts(st.Steered))
		case st.SteerNote != "":
			fmt.Fprintf(w, "new connections go to: %s\n", st.SteerNote)
		}
	}
	t := &table{right: map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true}}
	t.add(plain("INSTANCE", "STATE", "PID", "UPTIME", "RESTARTS", "MEMORY", "CPU", "STATUS")...)
	for _, u := range st.Instances {
		t.add(cell{text: u.Name, color: bold}, cell{text: stateText(u), color: stateColor(u)},
			cell{text: pid(u.MainPID)}, cell{text: uptime(u, now)}, cell{text: fmt.Sprint(u.NRestarts)},
			cell{text: size(u.Memory)}, cell{text: cpu(u.CPU)}, cell{text: u.StatusText, color: dim})
	}
	t.write(w, color)
	writeAccountingNote(w, st.Instances, color)
	fmt.Fprintf(w, "configured instances: %d\n", st.Configured)
	r := st.LastRollout
	switch {
	case st.ReportUnreadable:
		fmt.Fprintf(w, "last rollout: (its report is for root and the %s group only)\n", reloader.DeployGroup)
	case r == nil:
		fmt.Fprintln(w, "last rollout: none yet")
	case st.RolloutState == reloader.RolloutRunning:
		fmt.Fprintf(w, "last rollout: %s since %s (pid %d), %d steps done\n", paint(color, yellow, "in progress"), r.Started.Format(time.RFC3339), r.Process.PID, len(r.Steps))
	case st.RolloutState == reloader.RolloutInterrupted:
		pid := 0
		if r.Process != nil {
			pid = r.Process.PID
		}
		fmt.Fprintf(w, "last rollout: %s, %s, after %d steps: the reloader (pid %d) is gone\n", paint(color, red, "INTERRUPTED"), r.Started.Format(time.RFC3339), len(r.Steps), pid)
		writeMixed(w, st)
		fmt.Fprintln(w, "run `app-reloader reload` to complete it")
	case r.OK && st.RolloutState == reloader.RolloutDegraded:
		fmt.Fprintf(w, "last rollout: ok, %s, %d instances in %s; %s: %s\n", r.Started.Format(time.RFC3339), r.Instances, round(r.Took),
			paint(color, red, "but since then"), printable(strings.Join(st.SinceRollout, "; ")))
	case r.OK:
		fmt.Fprintf(w, "last rollout: %s, %s, %d instances in %s\n", paint(color, green, "ok"), r.Started.Format(time.RFC3339), r.Instances, round(r.Took))
	case r.Failure != nil:
		fmt.Fprintf(w, "last rollout: %s, %s, at %s: %s\n", paint(color, red, "FAILED"), r.Started.Format(time.RFC3339), r.Failure.Unit, printable(r.Failure.Reason))
	default:
		fmt.Fprintf(w, "last rollout: %s, %s: %s\n", paint(color, yellow, "NOT complete"), r.Started.Format(time.RFC3339), printable(r.Error))
	}
}

// writeMixed says which instances an interrupted rollout left on its new
// release (their process is the one it started) and which on the one
// before.
func writeMixed(w io.Writer, st reloader.Status) {
	started := map[string]uint32{}
	inProgress := map[string]uint32{} // its old PID: systemd went on with the job
	for _, s := range st.LastRollout.Steps {
		switch {
		case s.Action == reloader.ActionStop || s.Error != "":
		case s.InProgress:
			inProgress[s.Unit] = s.OldPID
		default:
			started[s.Unit] = s.NewPID
		}
	}
	var rolled, before []string
	for _, u := range st.Instances {
		pid, ok := started[u.Name]
		old, begun := inProgress[u.Name]
		switch {
		case u.Name == st.LastRollout.SpareUnit():
		case ok && u.MainPID == pid, begun && u.MainPID != 0 && u.MainPID != old:
			rolled = append(rolled, u.Name)
		default:
			before = append(before, u.Name)
		}
	}
	fmt.Fprintf(w, "  started by it (the new release): %s\n", orDash(strings.Join(rolled, ", ")))
	fmt.Fprintf(w, "  not reached (the release before): %s\n", orDash(strings.Join(before, ", ")))
}

// writeAccountingNote says, under a table of instances, when their CPU
// and memory are their main processes' rather than their control groups'.
func writeAccountingNote(w io.Writer, us []reloader.Unit, color bool) {
	for _, u := range us {
		if u.Accounting == reloader.AccountingProcess {
			fmt.Fprintln(w, paint(color, dim, "memory and CPU: the main process's (systemd has no accounting for the instances here)"))
			return
		}
	}
}

// stateText is a unit's state in a word or two.
func stateText(u reloader.Unit) string { return u.StateText() }

func uptime(u reloader.Unit, now time.Time) string {
	if u.ActiveState != "active" || u.Since.IsZero() {
		return "-"
	}
	return round(now.Sub(u.Since)).String()
}

func pid(p uint32) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprint(p)
}

func size(b uint64) string { return reloader.Size(b) }

func cpu(ns uint64) string {
	if ns == 0 {
		return "-"
	}
	return round(time.Duration(ns)).String()
}

// Round rounds a duration to what a person reads: whole seconds from a
// minute, hundredths from a second, milliseconds below.
func Round(d time.Duration) time.Duration { return round(d) }

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// joinInts is instance numbers as "app@0, app@2" would name them: "0 2".
func joinInts(xs []int) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.Itoa(x)
	}
	return strings.Join(out, " ")
}
