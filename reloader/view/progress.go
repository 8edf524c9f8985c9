package view

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"example.com/app/reloader"
)

// LiveProgress shows a rollout on a terminal: one line per instance,
// rewritten in place as its step begins and ends. Lines already drawn are
// reached again with the cursor-up sequence, so it must be the only
// writer to the terminal meanwhile.
type LiveProgress struct {
	w     io.Writer
	color bool
	units []string          // in the order they first appeared
	lines map[string]string // the current line of each
	drawn int               // lines on screen from the last draw
}

// NewLiveProgress returns a LiveProgress writing to w, a terminal.
func NewLiveProgress(w io.Writer, color bool) *LiveProgress {
	return &LiveProgress{w: w, color: color, lines: map[string]string{}}
}

// Event takes one step's beginning or end; use it as Reloader.Progress.
func (p *LiveProgress) Event(e reloader.Event) {
	if !slices.Contains(p.units, e.Unit) {
		p.units = append(p.units, e.Unit)
	}
	mark, color := "…", yellow
	switch {
	case e.Done && e.Error != "":
		mark, color = "✗", red
	case e.Done:
		mark, color = "✓", green
	}
	p.lines[e.Unit] = fmt.Sprintf("%s %s %s", paint(p.color, color, mark), paint(p.color, bold, e.Unit), eventText(e))
	p.draw(fmt.Sprintf("[%d/%d]", e.Index, e.Total))
}

func (p *LiveProgress) draw(pos string) {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, u := range p.units {
		b.WriteString("\r\x1b[2K" + p.lines[u] + "\n")
	}
	b.WriteString("\r\x1b[2K" + paint(p.color, dim, pos+" steps") + "\n")
	p.drawn = len(p.units) + 1
	fmt.Fprint(p.w, b.String())
}

// ProgressTo picks how a rollout's progress is shown on w: lines updated
// in place on a terminal, unless plain is set; one line per event
// otherwise (a pipe, a log, the journal).
func ProgressTo(w io.Writer, plain bool) func(reloader.Event) {
	if !plain && isTerminal(w) {
		return NewLiveProgress(w, colorful(w)).Event
	}
	return func(e reloader.Event) { WriteEvent(w, e) }
}
