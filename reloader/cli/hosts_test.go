package cli

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
	assert.Contains(t, errs, "no --host: to install on this machine, run: apt install ./app_9_amd64.deb")
	code, _, errs = runCLI("deploy", "-host", "web1", junk)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, junk+": not a Debian package")
	assert.Contains(t, errs, "nothing was changed")
	code, _, _ = runCLI("deploy", "-host", "web1")
	assert.Equal(t, 2, code, "the package is required")
}
