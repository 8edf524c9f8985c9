package fleet

import (
	"context"
	"errors"
	"sync"
	"testing"

	"example.com/app/reloader"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRollHostsHaltsAtFirstFailure(t *testing.T) {
	var mu sync.Mutex
	var rolled []string
	roll := func(_ context.Context, host string) (*reloader.Report, error) {
		mu.Lock()
		rolled = append(rolled, host)
		mu.Unlock()
		if host == "b" {
			return &reloader.Report{Failure: &reloader.Failure{Unit: "app@1.service"}}, errors.New("rollout failed")
		}
		return &reloader.Report{OK: true, Instances: 2}, nil
	}
	var done []string
	res, err := RollHosts(context.Background(), []string{"a", "b", "c", "d"}, 1, roll, func(r HostResult) { done = append(done, r.Host) })
	require.ErrorIs(t, err, ErrHostFailed)
	assert.Contains(t, err.Error(), "b; the hosts after it were not touched")
	assert.Equal(t, []string{"a", "b"}, rolled, "c and d are not touched")
	assert.Equal(t, []string{"a", "b"}, done)
	require.Len(t, res, 4)
	assert.Empty(t, res[0].Error)
	assert.Equal(t, "app@1.service", res[1].Report.Failure.Unit)
	assert.True(t, res[2].Skipped)
	assert.True(t, res[3].Skipped)

	// Two at a time: the batch with the failure finishes, the next does not start.
	rolled = nil
	_, err = RollHosts(context.Background(), []string{"a", "b", "c", "d", "e"}, 2, roll, nil)
	require.ErrorIs(t, err, ErrHostFailed)
	assert.ElementsMatch(t, []string{"a", "b"}, rolled)

	rolled = nil
	res, err = RollHosts(context.Background(), []string{"a", "c"}, 3, roll, nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "c"}, rolled)
	assert.Len(t, res, 2)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rolled = nil
	_, err = RollHosts(ctx, []string{"a", "c"}, 1, roll, nil)
	require.ErrorIs(t, err, reloader.ErrInterrupted)
	assert.Empty(t, rolled)
}
