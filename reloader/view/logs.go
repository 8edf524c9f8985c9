package view

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"example.com/app/reloader/journal"
)

// LogOptions say how `app-reloader logs` shows the journal's lines.
type LogOptions struct {
	// JSON writes one JSON object per line (journal.Entry) instead of text.
	JSON bool
	// Color paints each instance's prefix and warnings.
	Color bool
	// Follow flushes each line as it comes.
	Follow bool
}

// instanceColors tell the instances apart in merged logs.
var instanceColors = []string{cyan, "35", "34", green, yellow, "36;1", "35;1", "34;1"}

// Logs writes the journal entries sel selects merged, each line prefixed
// with its instance, as `pm2 logs` does, and returns when they are
// written, or, following, when ctx ends.
func Logs(ctx context.Context, w io.Writer, r journal.Reader, sel journal.Options, opt LogOptions) error {
	bw := bufio.NewWriter(w)
	err := r.Read(ctx, sel, func(e journal.Entry) error {
		if opt.JSON {
			b, _ := json.Marshal(e)
			bw.Write(append(b, '\n'))
		} else {
			writeLogLine(bw, e, opt.Color)
		}
		// Flush as lines come when following; in batches otherwise.
		if opt.Follow || bw.Available() < 4096 {
			return bw.Flush()
		}
		return nil
	})
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

// writeLogLine writes `15:04:05.000 app@0 | message`; systemd's own lines
// about the instance read `app@0 | systemd: Started …`.
func writeLogLine(w io.Writer, e journal.Entry, color bool) {
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
