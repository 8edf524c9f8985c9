package reloader

import (
	"context"
	"testing"

	"example.com/app/units"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScaleTouchesNoRunningInstance(t *testing.T) {
	f := newFake("app@0.service", "app@1.service")
	rr := r(f)
	rr.o.Surge = units.SurgeOn // a scale never starts a spare
	rep, err := rr.Scale(context.Background(), 4)
	require.NoError(t, err)
	assert.True(t, rep.OK)
	assert.True(t, rep.Scale)
	assert.Equal(t, []string{"daemon-reload", "start app@2.service", "start app@3.service"}, f.mutations())
	assert.Equal(t, []string{"start", "start"}, actionsOf(rep))

	// Down: only the stops, highest last.
	f.calls = nil
	rep, err = rr.Scale(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"daemon-reload", "stop app@1.service", "stop app@2.service", "stop app@3.service"}, f.mutations())
	assert.Equal(t, 1, rep.Instances)

	// A stopped instance within the count is started again.
	f.calls = nil
	f.units["app@0.service"].ActiveState = "failed"
	_, err = rr.Scale(context.Background(), 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"daemon-reload", "start app@0.service"}, f.mutations())
}

func TestScaleHaltsOnFirstFailure(t *testing.T) {
	f := newFake("app@0.service")
	f.result["app@1.service"] = "failed"
	rep, err := r(f).Scale(context.Background(), 3)
	require.ErrorIs(t, err, ErrRolloutFailed)
	assert.Equal(t, []string{"daemon-reload", "start app@1.service"}, f.mutations(), "app@2 is not started after app@1 failed")
	require.NotNil(t, rep.Failure)
	assert.Equal(t, "app@1.service", rep.Failure.Unit)
	assert.Equal(t, "active", f.units["app@0.service"].ActiveState, "the running instance keeps serving")
}
