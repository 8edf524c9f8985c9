package reloader

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// LogOptions say which lines `app-reloader logs` shows.
type LogOptions struct {
	// Units are the units whose lines are shown: unit names or globs
	// (journalctl -u), such as "app@*.service".
	Units []string
	// Lines is how many of the last lines to show first (journalctl -n).
	Lines int
	// Follow keeps showing new lines until ctx ends (journalctl -f).
	Follow bool
	// Since, if set, starts at that time, as journalctl --since takes it.
	Since string
	// JSON writes one JSON object per line (JournalLine) instead of text.
	JSON bool
	// Color paints each instance's prefix and warnings.
	Color bool
}

// instanceColors tell the instances apart in merged logs.
var instanceColors = []string{cyan, "35", "34", green, yellow, "36;1", "35;1", "34;1"}

// Logs writes the journal of the units merged, each line prefixed with its
// instance, as `pm2 logs` does. It reads the journal through journalctl,
// the journal's own reader, and returns when the lines are written, or,
// with Follow, when ctx ends.
func Logs(ctx context.Context, w io.Writer, opt LogOptions) error {
	args := []string{"--no-pager", "-q", "-o", "json", "-n", strconv.Itoa(opt.Lines)}
	if opt.Follow {
		args = append(args, "-f")
	}
	if opt.Since != "" {
		args = append(args, "--since", opt.Since)
	}
	for _, u := range opt.Units {
		args = append(args, "-u", u)
	}
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	bw := bufio.NewWriter(w)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var werr error
	for sc.Scan() {
		e, ok := parseEntry(sc.Bytes())
		if !ok || werr != nil {
			continue
		}
		if opt.JSON {
			b, _ := json.Marshal(e)
			bw.Write(append(b, '\n'))
		} else {
			writeLogLine(bw, e, opt.Color)
		}
		// Flush as lines come when following; in batches otherwise.
		if opt.Follow || bw.Available() < 4096 {
			werr = bw.Flush()
		}
	}
	if err := bw.Flush(); err != nil && werr == nil {
		werr = err
	}
	err = cmd.Wait()
	switch {
	case werr != nil:
		return fmt.Errorf("logs: %w", werr)
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

// writeLogLine writes `15:04:05.000 app@0 | message`; systemd's own lines
// about the instance read `app@0 | systemd: Started …`.
func writeLogLine(w io.Writer, e JournalLine, color bool) {
	name := strings.TrimSuffix(e.Unit, ".service")
	c := cyan
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil {
			c = instanceColors[n%len(instanceColors)]
		}
	}
	msg := printable(e.Message)
	if e.PID == 1 {
		msg = "systemd: " + strings.TrimPrefix(msg, e.Unit+": ")
	}
	switch {
	case e.Priority <= 3:
		msg = paint(color, red, msg)
	case e.Priority == 4:
		msg = paint(color, yellow, msg)
	case e.PID == 1:
		msg = paint(color, dim, msg)
	}
	pad := strings.Repeat(" ", max(0, 6-len(name)))
	fmt.Fprintf(w, "%s %s%s | %s\n", paint(color, dim, e.Time.Format(time.TimeOnly+".000")), paint(color, c, name), pad, msg)
}
