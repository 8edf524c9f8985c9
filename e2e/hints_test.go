//go:build e2e

package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/app/worker"
)

// TestRolloutSaysWhichSetting: when a server cannot start under app's
// sandbox, the rollout halts on the spare and says, in the server's own
// words and as an app.toml setting, what is in its way; with the setting,
// the same release rolls. Node is the server (the host has it).
func TestRolloutSaysWhichSetting(t *testing.T) {
	c := newCluster(t, "instances = 2\n")
	require.NoError(t, c.WaitActive(c.ctx, 30*time.Second, c.instances(2)...))
	server := `const fs = require('fs');
const { serve } = require('` + worker.NodeHelperDir + `');
if (process.env.WRITE_CACHE) fs.writeFileSync('/srv/shop/cache/pages.json', '{}');
if (process.env.LISTEN_ITSELF) require('http').createServer().listen(Number(process.env.LISTEN_ITSELF), '127.0.0.1');
serve((req, res) => { res.setHeader('X-Version', process.env.APP_VERSION); res.end('ok\n'); });
`
	require.NoError(t, os.MkdirAll(filepath.Join(c.Root, "srv/shop"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(c.Root, "srv/shop/server.js"), []byte(server), 0o644))
	// The cache belongs to an account of its own, as an operator would
	// set it up: the hint names it.
	c.run(t, "useradd", "--system", "--no-create-home", "shop")
	c.run(t, "install", "-d", "-o", "shop", "-m", "0755", "/srv/shop/cache")
	base := "instances = 2\nscript = \"/usr/bin/node\"\nargs = [\"/srv/shop/server.js\"]\n"
	_, port, err := net.SplitHostPort(c.addr)
	require.NoError(t, err)

	for _, tc := range []struct {
		name, config, cause, hint string
	}{
		{"writes its own directory", base + "[env]\nAPP_VERSION = \"2\"\nWRITE_CACHE = \"1\"\n",
			"Error: EROFS: read-only file system, open '/srv/shop/cache/pages.json'",
			`hint: it writes /srv/shop/cache/pages.json, where the sandbox lets it read only: read_write_paths = ["/srv/shop/cache"] in app.toml (or the subdirectory it writes to; it must exist), and the instances must be allowed to write there: user = "shop" in app.toml, its owner`},
		{"listens itself", base + "[env]\nAPP_VERSION = \"2\"\nLISTEN_ITSELF = \"" + port + "\"\n",
			"Error: listen EADDRINUSE: address already in use " + c.addr, "hint: the server opens its own listening socket on an address app's socket already holds"},
		{"a JIT without writable code", base + "memory_deny_write_execute = true\n[env]\nAPP_VERSION = \"2\"\n",
			"# Check failed: 12 == (*__errno_location ()).", "hint: its runtime compiles code to memory (a JIT), which MemoryDenyWriteExecute= forbids: memory_deny_write_execute = false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := c.pids(t, 2)
			require.NoError(t, c.WriteConfig(c.config(tc.config)))
			out, err := c.Run(c.ctx, "app-reloader", "reload")
			t.Logf("app-reloader reload:\n%s", tail(out, 24))
			require.Error(t, err)
			assert.Contains(t, out, "caught on the spare")
			if tc.cause != "" {
				assert.Contains(t, out, "cause: ")
				assert.Contains(t, out, tc.cause)
			}
			assert.Contains(t, out, tc.hint)
			assert.Equal(t, 1, strings.Count(out, "\nhint: "), "one hint, this failure's: %s", out)
			assert.Equal(t, before, c.pids(t, 2), "nothing touched")
		})
	}

	// The hint, applied: the same release rolls.
	require.NoError(t, c.WriteConfig(c.config(base+"read_write_paths = [\"/srv/shop/cache\"]\nuser = \"shop\"\n[env]\nAPP_VERSION = \"2\"\nWRITE_CACHE = \"1\"\n")))
	rep, out, err := c.reload(t)
	require.NoError(t, err, out)
	assert.True(t, rep.OK)
	assert.Equal(t, []string{"2"}, keys(versionsAt(t, c.addr, nil)))
}
