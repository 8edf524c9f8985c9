package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := CLI(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLICheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	require.NoError(t, os.WriteFile(good, []byte("instances = 3\nlisten = [\"127.0.0.1:9000\"]\n"), 0o644))
	code, out, _ := runCLI("check", "-config", good)
	assert.Equal(t, 0, code)
	assert.Equal(t, good+": ok (3 instances, listen 127.0.0.1:9000, socket shared)\n", out)
	require.NoError(t, os.WriteFile(good, []byte("instances = 3\nlisten = [\"127.0.0.1:9000\"]\nsocket = \"reuseport\"\n"), 0o644))
	_, out, _ = runCLI("check", "-config", good)
	assert.Equal(t, good+": ok (3 instances, listen 127.0.0.1:9000, socket reuseport)\n", out)

	// Secrets in a file every local user can read: said, not refused.
	secret := filepath.Join(dir, "secret.toml")
	require.NoError(t, os.WriteFile(secret, []byte("[env]\nAPI_KEY = \"s3cret\"\n"), 0o644))
	code, _, errs := runCLI("check", "-config", secret)
	assert.Equal(t, 0, code)
	assert.Contains(t, errs, "warning: "+secret+" holds [env] and every local user can read it: chmod o-rwx "+secret)
	require.NoError(t, os.Chmod(secret, 0o640))
	_, _, errs = runCLI("check", "-config", secret)
	assert.Empty(t, errs)

	// A valid file that is still wrong for its server: warned, not refused.
	trap := filepath.Join(dir, "trap.toml")
	require.NoError(t, os.WriteFile(trap, []byte("script = \"/usr/bin/gunicorn\"\nargs = [\"app:app\"]\n[env]\nAPP_VERSION = \"2\"\nkill_timeout = \"60s\"\n"), 0o600))
	code, _, errs = runCLI("check", "-config", trap)
	assert.Equal(t, 0, code)
	assert.Contains(t, errs, `app-reloader check: warning: env.kill_timeout: "kill_timeout" is an app.toml setting, but it is in [env]`)
	assert.Contains(t, errs, `app-reloader check: warning: gunicorn drains within its own --graceful-timeout`)

	bad := filepath.Join(dir, "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte("instances = 3\nlisten = [\"nowhere\"]\n"), 0o644))
	code, _, errs = runCLI("check", "-config", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, bad+`:2: listen: "nowhere"`)

	code, _, errs = runCLI("reload", "-config", bad)
	assert.Equal(t, 1, code, "reload refuses bad config before connecting to anything")
	assert.Contains(t, errs, "nothing was changed")
}

func TestCLIUsage(t *testing.T) {
	code, _, errs := runCLI()
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "usage: app-reloader COMMAND")
	code, _, errs = runCLI("frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `unknown command "frobnicate"`)
	code, _, _ = runCLI("status", "-bogus")
	assert.Equal(t, 2, code)
	code, _, _ = runCLI("help")
	assert.Equal(t, 0, code)
}

func TestCLIGuard(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		code, _, errs := runCLI("guard", "-dir", dir, "-max-restarts", "1", "app@1.service")
		assert.Equal(t, 0, code, errs)
	}
	code, _, errs := runCLI("guard", "-dir", dir, "-max-restarts", "1", "app@1.service")
	assert.Equal(t, 1, code, "the third start within a minute is refused")
	assert.Contains(t, errs, "app@1.service started 3 times within 1m0s: crash loop: not starting it again")

	code, _, _ = runCLI("guard", "-dir", dir)
	assert.Equal(t, 2, code, "a unit is required")
}

func TestCLIGuardStopped(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		code, _, errs := runCLI("guard", "-dir", dir, "-max-restarts", "1", "app@1.service")
		require.Equal(t, 0, code, "start %d: %s", i+1, errs)
		t.Setenv("SERVICE_RESULT", "success")
		code, _, errs = runCLI("guard", "-dir", dir, "-stopped", "app@1.service")
		require.Equal(t, 0, code, errs)
	}
	t.Setenv("SERVICE_RESULT", "signal")
	for i := 0; i < 2; i++ {
		code, _, errs := runCLI("guard", "-dir", dir, "-max-restarts", "1", "app@1.service")
		require.Equal(t, 0, code, errs)
		code, _, _ = runCLI("guard", "-dir", dir, "-stopped", "app@1.service")
		require.Equal(t, 0, code)
	}
	code, _, _ := runCLI("guard", "-dir", dir, "-max-restarts", "1", "app@1.service")
	assert.Equal(t, 1, code, "two killed runs, then a third start within a minute")
}

// TestFlagsAnywhere: GNU flags after the arguments, -- ending them, one
// dash for long flags as the first releases took them, pm2's words.
func TestFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "app.toml")
	require.NoError(t, os.WriteFile(cfg, []byte("instances = 3\nlisten = [\"127.0.0.1:9000\"]\n"), 0o600))
	for _, args := range [][]string{
		{"check", "app", "--config", cfg, "--apps", dir},
		{"check", "--config=" + cfg, "app", "-apps", dir},
		{"check", "-config", cfg, "-apps=" + dir, "app"},
		{"validate", "app", "--apps", dir, "--config", cfg},
	} {
		code, out, errs := runCLI(args...)
		assert.Equal(t, 0, code, "%v: %s", args, errs)
		assert.Equal(t, cfg+": ok (3 instances, listen 127.0.0.1:9000, socket shared)\n", out, "%v", args)
	}
	code, _, errs := runCLI("check", "--config", cfg, "--", "--apps")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `no app "--apps"`, "after --, an argument")

	// scale's -N is a count wherever it is, and flags still follow it.
	code, _, errs = runCLI("scale", "-5", "--config", cfg)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "COUNT -5: 3 - 5 is -2")

	code, _, errs = runCLI("status", "--bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "app-reloader status: unknown flag: --bogus\n\nusage: app-reloader status")
	code, _, errs = runCLI("logs", "-n", "many")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `invalid argument "many" for "-n, --lines"`)
}

func TestAliases(t *testing.T) {
	for alias, name := range map[string]string{"ls": "status", "list": "status", "show": "describe", "monit": "top", "log": "logs", "validate": "check"} {
		code, out, _ := runCLI(alias, "--help")
		assert.Equal(t, 0, code, alias)
		assert.True(t, strings.HasPrefix(out, "usage: app-reloader "+name+" "), "%s: %q", alias, out)
		assert.Contains(t, out, "aliases: ", alias)
	}
	_, list, _ := runCLI("help")
	assert.Contains(t, list, "\n  status (list, ls)  ")
}

func TestVersion(t *testing.T) {
	old := Version
	Version = "1.2.3-2"
	defer func() { Version = old }()
	for _, f := range []string{"--version", "-v", "-version"} {
		code, out, errs := runCLI(f)
		assert.Equal(t, 0, code, "%s: %s", f, errs)
		assert.Equal(t, "app-reloader 1.2.3-2\n", out, f)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, errs := runCLI("completion", sh)
		assert.Equal(t, 0, code, errs)
		assert.Contains(t, out, "app-reloader", sh)
		assert.Contains(t, out, "__complete", "%s asks app-reloader itself", sh)
	}
}
