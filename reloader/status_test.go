package reloader

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatusJSONFields(t *testing.T) {
	// The JSON of status is documented (man app-reloader, README): its
	// field names are a contract.
	st := Status{Socket: Unit{Name: "app.socket"}, Instances: []Unit{{Name: "app@0.service", Since: time.Unix(1, 0), Memory: 1, CPU: 1, StatusText: "s", ExitCode: 1, NeedDaemonReload: true, Listen: []string{"x"}, Accounting: AccountingProcess}},
		Sockets: []Unit{{Name: "app@0.socket"}}, Steered: []int{0}, SteerNote: "n", LastRollout: &Report{}}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var top map[string]any
	require.NoError(t, json.Unmarshal(b, &top))
	assert.ElementsMatch(t, []string{"socket", "instance_sockets", "steered", "steer_note", "configured_instances", "instances", "last_rollout"}, slices.Collect(maps.Keys(top)))
	inst := top["instances"].([]any)[0].(map[string]any)
	assert.ElementsMatch(t, []string{"unit", "active_state", "sub_state", "result", "pid", "since", "restarts", "memory_bytes", "cpu_nsec", "status_text", "exit_status", "need_daemon_reload", "listen", "accounting"}, slices.Collect(maps.Keys(inst)))
}
