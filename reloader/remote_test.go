package reloader

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRollHostsHaltsAtFirstFailure(t *testing.T) {
	var mu sync.Mutex
	var rolled []string
	roll := func(_ context.Context, host string) (*Report, error) {
		mu.Lock()
		rolled = append(rolled, host)
		mu.Unlock()
		if host == "b" {
			return &Report{Failure: &Failure{Unit: "app@1.service"}}, errors.New("rollout failed")
		}
		return &Report{OK: true, Instances: 2}, nil
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
	require.ErrorIs(t, err, ErrInterrupted)
	assert.Empty(t, rolled)
}

func TestHostFlag(t *testing.T) {
	var h hostList
	require.NoError(t, h.Set("web1,web2"))
	require.NoError(t, h.Set("root@10.0.0.5"))
	assert.Equal(t, hostList{"web1", "web2", "root@10.0.0.5"}, h)
	assert.Error(t, h.Set("web1,,web2"))
	assert.Error(t, h.Set("-oProxyCommand=x"), "no ssh options through a host name")

	code, _, errs := runCLI("reload", "-host", "web1", "-parallel", "0")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "-parallel 0: want 1 or more")
}

func TestPrefixed(t *testing.T) {
	var b bytes.Buffer
	w := prefixed(&b, "h1 | ")
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\n\nthree"))
	assert.Equal(t, "h1 | one\nh1 | two\nh1 | \nh1 | three", b.String())
}

func TestCLIDeployRefusesBadInput(t *testing.T) {
	junk := t.TempDir() + "/app_9_amd64.deb"
	require.NoError(t, os.WriteFile(junk, []byte("not a package"), 0o644))
	code, _, errs := runCLI("deploy", junk)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "no -host: to install on this machine, run: apt install ./app_9_amd64.deb")
	code, _, errs = runCLI("deploy", "-host", "web1", junk)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, junk+": not a Debian package")
	assert.Contains(t, errs, "nothing was changed")
	code, _, _ = runCLI("deploy", "-host", "web1")
	assert.Equal(t, 2, code, "the package is required")
}
