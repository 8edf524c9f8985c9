package journal

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseEntry(t *testing.T) {
	e, ok := ParseEntry([]byte(`{"__REALTIME_TIMESTAMP":"1764115200123000","_SYSTEMD_UNIT":"app@1.service","_PID":"42","PRIORITY":"3","MESSAGE":"boom"}`))
	require.True(t, ok)
	assert.Equal(t, Entry{Time: e.Time, Unit: "app@1.service", PID: 42, Priority: 3, Message: "boom"}, e)
	assert.Equal(t, int64(1764115200123000), e.Time.UnixMicro())

	// systemd's own line about the unit, its message in bytes.
	e, ok = ParseEntry([]byte(`{"_SYSTEMD_UNIT":"init.scope","UNIT":"app@0.service","_PID":"1","MESSAGE_ID":"39f53479d3a045ac8e11786248231fbf","MESSAGE":[83,116,97,114,116,101,100,255]}`))
	require.True(t, ok)
	assert.Equal(t, "app@0.service", e.Unit)
	assert.Equal(t, UnitStarted, e.MessageID)
	assert.Equal(t, "Started\uFFFD", e.Message)
	assert.Equal(t, 6, e.Priority, "info by default")
	_, ok = ParseEntry([]byte("-- No entries --"))
	assert.False(t, ok)
}

// A Reader whose journalctl is a script printing entries: the lifecycle
// of a unit is told by fields, not by the words of its messages.
func TestLifecycleByFields(t *testing.T) {
	entries := []string{
		`{"UNIT":"app@0.service","_PID":"1","PRIORITY":"6","MESSAGE_ID":"7d4958e842da4a758f6c1cdc7b36dcc5","MESSAGE":"Starting app@0.service - x..."}`,
		`{"UNIT":"app@0.service","_PID":"1","PRIORITY":"6","MESSAGE_ID":"ae8f7b866b0347b9af31fe1c80b127c0","MESSAGE":"app@0.service: Consumed 1s CPU time."}`,
		`{"UNIT":"app@0.service","_PID":"1","PRIORITY":"6","MESSAGE":"app@0.service: something said in passing"}`,
		`{"UNIT":"app@0.service","_PID":"1","PRIORITY":"4","MESSAGE":"app@0.service: State 'stop-sigterm' timed out. Killing."}`,
		`{"UNIT":"app@0.service","_PID":"1","PRIORITY":"5","MESSAGE_ID":"98e322203f7a4ed290d09fe03c09fe15","MESSAGE":"app@0.service: Main process exited, code=killed, status=9/KILL"}`,
	}
	var gotArgs []string
	r := Reader{Command: func(ctx context.Context, args ...string) *exec.Cmd {
		gotArgs = args
		return exec.CommandContext(ctx, "printf", "%s\n", strings.Join(entries, "\n"))
	}}
	out, err := r.Lifecycle(context.Background(), "app@0.service", 10)
	require.NoError(t, err)
	var msgs []string
	for _, e := range out {
		msgs = append(msgs, e.Message)
	}
	assert.Equal(t, []string{"Starting app@0.service - x...", "State 'stop-sigterm' timed out. Killing.", "Main process exited, code=killed, status=9/KILL"}, msgs,
		"catalog messages (not the CPU summary) and warnings, with the unit's name trimmed; not what was said in passing")
	assert.Contains(t, gotArgs, "UNIT=app@0.service")
	assert.Contains(t, gotArgs, "_PID=1")

	out, err = r.Lifecycle(context.Background(), "app@0.service", 1)
	require.NoError(t, err)
	require.Len(t, out, 1, "the last n")
	assert.Equal(t, UnitProcessExit, out[0].MessageID)
}
