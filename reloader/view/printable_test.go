package view

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"example.com/app/reloader"
	"example.com/app/reloader/journal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostile is what a compromised worker could say: a terminal title
// command ended by BEL, a colour, a carriage return that hides what came
// before, a C1 CSI and bytes that are not UTF-8.
const hostile = "ok\x1b]0;pwned\x07\x1b[31mred\rhidden\u009b2J\xff\tend"

func TestPrintable(t *testing.T) {
	assert.Equal(t, `ok\x1b]0;pwned\x07\x1b[31mred\x0dhidden\u009b2J`+"\uFFFD\tend", printable(hostile))
	assert.Equal(t, "serving version 1, 12 requests", printable("serving version 1, 12 requests"), "plain text is kept")
	assert.Equal(t, "héllo ✓", printable("héllo ✓"))
}

// What an instance controls (its STATUS=, its log lines, a failure's
// journal lines) reaches the operator's terminal escaped, in every view;
// --json keeps it whole, escaped by JSON.
func TestHostileBytesNeverReachTheTerminal(t *testing.T) {
	now := time.Now()
	u := reloader.Unit{Name: "app@0.service", ActiveState: "active", SubState: "running", MainPID: 7, Since: now, StatusText: hostile}
	st := reloader.Status{Socket: reloader.Unit{Name: "app.socket"}, Configured: 1, Instances: []reloader.Unit{u},
		LastRollout: &reloader.Report{Failure: &reloader.Failure{Unit: "app@0.service", Reason: hostile, Journal: []string{hostile}}}}
	var views []string
	var b bytes.Buffer
	WriteStatus(&b, st, now, false)
	views = append(views, b.String())
	b.Reset()
	renderTop(&b, st, nil, now, time.Second, false)
	views = append(views, b.String())
	b.Reset()
	WriteReport(&b, *st.LastRollout)
	views = append(views, b.String())
	b.Reset()
	WriteDescription(&b, reloader.Description{Unit: u, Environment: []string{"X=" + hostile}, Recent: []journal.Entry{{Time: now, Message: hostile}}}, now, false)
	views = append(views, b.String())
	b.Reset()
	writeLogLine(&b, journal.Entry{Time: now, Unit: "app@0.service", Priority: 6, Message: hostile}, false)
	views = append(views, b.String())
	b.Reset()
	WriteEvent(&b, reloader.Event{Step: reloader.Step{Unit: "app@0.service", Action: reloader.ActionRestart, Error: hostile}, Done: true, Index: 1, Total: 1})
	views = append(views, b.String())
	for i, v := range views {
		for _, c := range []string{"\x1b", "\x07", "\r", "\u009b", "\xff"} {
			assert.NotContains(t, v, c, "view %d: %q", i, v)
		}
		assert.Contains(t, v, `\x1b]0;pwned\x07`, "view %d shows what was sent, escaped", i)
	}

	// JSON keeps every byte, escaped.
	j, err := json.Marshal(st)
	require.NoError(t, err)
	assert.NotContains(t, string(j), "\x1b")
	var back reloader.Status
	require.NoError(t, json.Unmarshal(j, &back))
	assert.Equal(t, "ok\x1b]0;pwned\x07\x1b[31mred\rhidden\u009b2J\uFFFD\tend", back.Instances[0].StatusText, "faithful but for the byte that is not UTF-8")
}
