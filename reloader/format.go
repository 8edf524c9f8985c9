package reloader

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteEvent prints one line of rollout progress.
func WriteEvent(w io.Writer, e Event) {
	pos := fmt.Sprintf("[%d/%d]", e.Index, e.Total)
	switch {
	case !e.Done && e.Action == ActionRestart:
		fmt.Fprintf(w, "%s %s: restarting (pid %d)…\n", pos, e.Unit, e.OldPID)
	case !e.Done && e.Action == ActionSurge:
		fmt.Fprintf(w, "%s %s: starting the spare…\n", pos, e.Unit)
	case !e.Done:
		fmt.Fprintf(w, "%s %s: %s…\n", pos, e.Unit, map[string]string{ActionStart: "starting", ActionStop: "stopping"}[e.Action])
	case e.Error != "":
		fmt.Fprintf(w, "%s %s: FAILED after %s: %s\n", pos, e.Unit, round(e.Took), e.Error)
	case e.Action == ActionStop && e.OldPID == 0:
		fmt.Fprintf(w, "%s %s: not running\n", pos, e.Unit)
	case e.Action == ActionStop:
		fmt.Fprintf(w, "%s %s: stopped pid %d in %s\n", pos, e.Unit, e.OldPID, round(e.Took))
	case e.Action == ActionSurge:
		fmt.Fprintf(w, "%s %s: spare ready as pid %d in %s%s; restarting the others\n", pos, e.Unit, e.NewPID, round(e.Ready), held(e.Step))
	case e.Action == ActionStart:
		fmt.Fprintf(w, "%s %s: started, ready as pid %d in %s%s\n", pos, e.Unit, e.NewPID, round(e.Ready), held(e.Step))
	default:
		fmt.Fprintf(w, "%s %s: ready, pid %d → %d in %s%s\n", pos, e.Unit, e.OldPID, e.NewPID, round(e.Ready), held(e.Step))
	}
}

// held says how long an instance was watched after it was ready.
func held(s Step) string {
	if h := s.Took - s.Ready; h >= time.Millisecond {
		return fmt.Sprintf(", stayed up %s", round(h))
	}
	return ""
}

// WriteReport prints the summary of a rollout.
func WriteReport(w io.Writer, rep Report) {
	if rep.Failure != nil {
		fmt.Fprintf(w, "\nrollout FAILED at %s: %s\n", rep.Failure.Unit, rep.Failure.Reason)
		if len(rep.Failure.Journal) > 0 {
			fmt.Fprintf(w, "last log lines of %s:\n", rep.Failure.Unit)
			for _, l := range rep.Failure.Journal {
				fmt.Fprintf(w, "  %s\n", l)
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
		fmt.Fprintf(w, "\nrollout done: %d instances in %s\n", rep.Instances, round(rep.Took))
		if rep.SurgeNote != "" {
			fmt.Fprintf(w, "without a spare: %s\n", rep.SurgeNote)
		}
	} else {
		fmt.Fprintf(w, "\nrollout NOT complete after %s: %s\n", round(rep.Took), rep.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tACTION\tOLD PID\tNEW PID\tTOOK")
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Unit, s.Action, pid(s.OldPID), pid(s.NewPID), round(s.Took))
	}
	tw.Flush()
}

// WriteStatus prints the cluster as `pm2 list` would.
func WriteStatus(w io.Writer, st Status, now time.Time) {
	fmt.Fprintf(w, "socket %s: %s/%s\n", st.Socket.Name, st.Socket.ActiveState, st.Socket.SubState)
	if len(st.Sockets) > 0 {
		own := make([]string, len(st.Sockets))
		for i, u := range st.Sockets {
			own[i] = u.Name + " " + u.ActiveState
		}
		fmt.Fprintf(w, "instance sockets (SO_REUSEPORT): %s\n", strings.Join(own, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSTATE\tPID\tUPTIME\tRESTARTS\tMEMORY\tCPU\tSTATUS")
	for _, u := range st.Instances {
		state := u.ActiveState
		if u.SubState != "" && u.SubState != "running" {
			state += "/" + u.SubState
		}
		if u.ActiveState == "failed" && u.Result != "" {
			state += " (" + u.Result + ")"
		}
		if u.Result == "exec-condition" {
			state = "STOPPED: crash loop"
		}
		up := "-"
		if u.ActiveState == "active" && !u.Since.IsZero() {
			up = round(now.Sub(u.Since)).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", u.Name, state, pid(u.MainPID), up, u.NRestarts,
			size(u.Memory), cpu(u.CPU), u.StatusText)
	}
	tw.Flush()
	fmt.Fprintf(w, "configured instances: %d\n", st.Configured)
	switch r := st.LastRollout; {
	case r == nil:
		fmt.Fprintln(w, "last rollout: none yet")
	case r.OK:
		fmt.Fprintf(w, "last rollout: ok, %s, %d instances in %s\n", r.Started.Format(time.RFC3339), r.Instances, round(r.Took))
	case r.Failure != nil:
		fmt.Fprintf(w, "last rollout: FAILED, %s, at %s: %s\n", r.Started.Format(time.RFC3339), r.Failure.Unit, r.Failure.Reason)
	default:
		fmt.Fprintf(w, "last rollout: NOT complete, %s: %s\n", r.Started.Format(time.RFC3339), r.Error)
	}
}

func pid(p uint32) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprint(p)
}

func size(b uint64) string {
	switch {
	case b == 0:
		return "-"
	case b >= 1<<40:
		return fmt.Sprintf("%.1fT", float64(b)/(1<<40))
	case b >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.0fK", float64(b)/(1<<10))
	}
}

func cpu(ns uint64) string {
	if ns == 0 {
		return "-"
	}
	return round(time.Duration(ns)).String()
}

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
