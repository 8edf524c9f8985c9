package view

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"example.com/app/activation/statusline"
	"example.com/app/reloader"
)

// TopOptions configure `app-reloader top`.
type TopOptions struct {
	// Interval between refreshes; 0 means 1s.
	Interval time.Duration
	// Frames, if positive, stops after that many refreshes.
	Frames int
	// Screen draws each frame over the last on a terminal (its alternate
	// screen); otherwise frames are printed one after another.
	Screen bool
	Color  bool
	// Keys, if a terminal, is read for "q" (quit) without waiting for
	// Enter.
	Keys *os.File
	// Size, if set, is the screen's size: each frame is cut to fit it.
	Size func() (rows, cols int, ok bool)
	// Resized, if set, delivers when the screen's size changes: the frame
	// is drawn again at once, to the new size.
	Resized <-chan os.Signal
}

// sample is one reading of an instance's counters.
type sample struct {
	at       time.Time
	pid      uint32
	cpu      uint64 // ns
	requests int64
	counted  bool // the worker reports its request count
	// The count comes about once a second, not at each refresh: the rate
	// is taken between the refreshes that saw it change, and kept in
	// between.
	changed time.Time // when the count was last seen to change
	rate    float64
	hasRate bool
}

// staleRate is how long a rate is shown after the count last changed.
const staleRate = 3 * time.Second

// Top shows the instances live, each frame from status (systemd's
// accounting: CPUUsageNSec, MemoryCurrent, NRestarts; and the request
// count a worker reports in STATUS=, see package statusline), until ctx
// ends, "q" is pressed or opt.Frames are drawn.
func Top(ctx context.Context, w io.Writer, status func(context.Context) (reloader.Status, error), opt TopOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	interval := opt.Interval
	if interval <= 0 {
		interval = time.Second
	}
	if opt.Keys != nil && isTerminal(opt.Keys) {
		restore, err := cbreak(opt.Keys)
		if err != nil {
			return fmt.Errorf("top: %w", err)
		}
		defer restore()
		go func() {
			b := make([]byte, 1)
			for {
				if n, err := opt.Keys.Read(b); err != nil || n == 1 && (b[0] == 'q' || b[0] == 'Q') {
					cancel()
					return
				}
			}
		}()
	}
	if opt.Screen {
		fmt.Fprint(w, "\x1b[?1049h\x1b[?25l") // alternate screen, no cursor
		defer fmt.Fprint(w, "\x1b[?25h\x1b[?1049l")
	}
	prev := map[string]sample{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for frame := 1; ; frame++ {
		st, err := status(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("top: %w", err)
		}
		now := time.Now()
		var b strings.Builder
		prev = renderTop(&b, st, prev, now, interval, opt.Color)
		out := b.String()
		if opt.Screen {
			if opt.Size != nil {
				if rows, cols, ok := opt.Size(); ok {
					out = fit(out, rows, cols)
				}
			}
			// Home, each line cleared to its end, then the rest of the screen.
			out = "\x1b[H" + strings.ReplaceAll(out, "\n", "\x1b[K\n") + "\x1b[J"
		} else if frame > 1 {
			out = "\n" + out
		}
		if _, err := io.WriteString(w, out); err != nil {
			return fmt.Errorf("top: %w", err)
		}
		if opt.Frames > 0 && frame >= opt.Frames {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-opt.Resized:
			// drawn again at once, to the new size
		}
	}
}

// fit cuts a frame to a screen of rows and cols: lines beyond the last row
// are left out, characters beyond the last column cut (colour sequences
// take no column, and one that was cut is reset).
func fit(frame string, rows, cols int) string {
	lines := strings.SplitAfter(frame, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if rows > 0 && len(lines) > rows {
		lines = lines[:rows]
	}
	var b strings.Builder
	for _, l := range lines {
		nl := strings.HasSuffix(l, "\n")
		l = strings.TrimSuffix(l, "\n")
		width, colored, cut := 0, false, false
		for i := 0; i < len(l); {
			if l[i] == '\x1b' {
				j := strings.IndexByte(l[i:], 'm')
				if j < 0 {
					break
				}
				b.WriteString(l[i : i+j+1])
				colored = true
				i += j + 1
				continue
			}
			r, size := utf8.DecodeRuneInString(l[i:])
			if width == cols {
				cut = true
				break
			}
			b.WriteRune(r)
			width++
			i += size
		}
		if cut && colored {
			b.WriteString("\x1b[0m")
		}
		if nl {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// renderTop writes one frame and returns the samples it was computed
// from, for the next.
func renderTop(w io.Writer, st reloader.Status, prev map[string]sample, now time.Time, interval time.Duration, color bool) map[string]sample {
	next := map[string]sample{}
	serving, total := 0, 0.0
	counted := false
	t := &table{right: map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true, 7: true}}
	t.add(plain("INSTANCE", "STATE", "PID", "UPTIME", "RESTARTS", "CPU%", "MEMORY", "REQ/S", "STATUS")...)
	for _, u := range st.Instances {
		s := sample{at: now, pid: u.MainPID, cpu: u.CPU}
		s.requests, s.counted = statusline.Requests(u.StatusText)
		if u.ActiveState == "active" {
			serving++
		}
		cpuPct, rps := "-", "-"
		s.changed = now
		if p, ok := prev[u.Name]; ok && p.pid == s.pid && s.pid != 0 {
			if dt := now.Sub(p.at).Seconds(); dt > 0 && s.cpu != 0 && s.cpu >= p.cpu {
				cpuPct = fmt.Sprintf("%.1f", float64(s.cpu-p.cpu)/1e9/dt*100)
			}
			if s.counted && p.counted && s.requests >= p.requests {
				if s.requests != p.requests {
					if dt := now.Sub(p.changed).Seconds(); dt > 0 {
						s.rate, s.hasRate = float64(s.requests-p.requests)/dt, true
					}
				} else {
					s.changed, s.rate, s.hasRate = p.changed, p.rate, p.hasRate
					if now.Sub(p.changed) > staleRate {
						s.rate = 0
					}
				}
			}
			if s.hasRate {
				rps = fmt.Sprintf("%.0f", s.rate)
				total += s.rate
				counted = true
			}
		}
		next[u.Name] = s
		status := u.StatusText
		if s.counted {
			status = statusline.WithoutRequests(status)
		}
		t.add(cell{text: u.Name, color: bold}, cell{text: stateText(u), color: stateColor(u)}, cell{text: pid(u.MainPID)},
			cell{text: uptime(u, now)}, cell{text: fmt.Sprint(u.NRestarts)}, cell{text: cpuPct}, cell{text: size(u.Memory)},
			cell{text: rps}, cell{text: status, color: dim})
	}
	fmt.Fprintf(w, "%s  %s  every %s  (q quits)\n", paint(color, bold, "app-reloader top"), now.Format(time.TimeOnly), interval)
	req := ""
	if counted {
		req = fmt.Sprintf(", %.0f req/s", total)
	}
	fmt.Fprintf(w, "socket %s %s %s  ·  %d of %d instances active%s\n\n", st.Socket.Name,
		paint(color, stateColor(st.Socket), st.Socket.ActiveState), strings.Join(st.Socket.Listen, ", "), serving, st.Configured, req)
	t.write(w, color)
	writeAccountingNote(w, st.Instances, color)
	return next
}
