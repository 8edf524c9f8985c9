package worker

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPriorityHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(NewPriorityHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", "0")
	log.Error("worker failed", "err", "boom")
	log.Warn("late")
	log.Info("serving")
	log.WithGroup("g").Debug("detail", "k", 1)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 4)
	for i, want := range []string{"<3>", "<4>", "<6>", "<7>"} {
		assert.True(t, strings.HasPrefix(lines[i], want+"time="), "line %d: %q", i, lines[i])
	}
	assert.Contains(t, lines[0], `msg="worker failed" instance=0 err=boom`)
	assert.Contains(t, lines[3], "g.k=1")
}

// TestLoggerPlainOffTheJournal: a terminal or a pipe gets slog's lines as
// they are; JOURNAL_STREAM naming another file changes nothing.
func TestLoggerPlainOffTheJournal(t *testing.T) {
	if os.Getenv("WORKER_LOG_HELPER") == "1" {
		NewLogger(os.Stderr, slog.LevelInfo).Error("worker failed")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoggerPlainOffTheJournal$")
	cmd.Env = append(os.Environ(), "WORKER_LOG_HELPER=1", "JOURNAL_STREAM=1:1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Run())
	assert.True(t, strings.HasPrefix(stderr.String(), "time="), "%q", stderr.String())
}
