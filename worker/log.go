package worker

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// NewLogger is the worker's logger: slog's text lines on w. When w is the
// journal's stream (systemd started the worker with its stderr there),
// each line starts with its syslog priority, <3> for an error, which
// journald reads and strips (SyslogLevelPrefix=, on by default): so
// `journalctl -p err` and `app-reloader logs -p err` find the worker's
// errors.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); !ok || f.Fd() != os.Stderr.Fd() {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	if is, err := journal.StderrIsJournalStream(); err != nil || !is {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(NewPriorityHandler(w, opts))
}

// NewPriorityHandler is a text handler whose lines start with their
// syslog priority (<3> error, <4> warning, <6> info, <7> debug), the
// prefix journald and sd-daemon(3) read.
func NewPriorityHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	pw := &priorityWriter{w: w}
	return &priorityHandler{Handler: slog.NewTextHandler(pw, opts), pw: pw}
}

// Priority is the syslog priority of a level: 3 (err) for errors, 4
// (warning), 6 (info), 7 (debug).
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

type priorityHandler struct {
	slog.Handler
	pw *priorityWriter
}

// priorityWriter prefixes each write (one record: slog's handlers write a
// record at once) with the priority of the record being handled.
type priorityWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
}

func (h *priorityHandler) Handle(ctx context.Context, r slog.Record) error {
	h.pw.mu.Lock()
	defer h.pw.mu.Unlock()
	h.pw.prefix = append(append(h.pw.prefix[:0], '<'), strconv.Itoa(Priority(r.Level))+">"...)
	return h.Handler.Handle(ctx, r)
}

func (h *priorityHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &priorityHandler{Handler: h.Handler.WithAttrs(as), pw: h.pw}
}

func (h *priorityHandler) WithGroup(name string) slog.Handler {
	return &priorityHandler{Handler: h.Handler.WithGroup(name), pw: h.pw}
}

func (w *priorityWriter) Write(p []byte) (int, error) {
	if _, err := w.w.Write(append(w.prefix[:len(w.prefix):len(w.prefix)], p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
