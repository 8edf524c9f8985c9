package reloader

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// journalLines puts lines as journalctl -o short-precise shows them.
func journalLines(proc string, lines ...string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		p := proc
		if strings.HasPrefix(l, "@") {
			p, l = "systemd[1]", l[1:]
		}
		out[i] = "Dec 02 01:01:41.694816 vm " + p + ": " + l
	}
	return out
}

func TestDiagnose(t *testing.T) {
	owner := func(p string) string {
		if strings.HasPrefix(p, "/home/deployer/") {
			return "deployer"
		}
		return ""
	}
	for _, tc := range []struct {
		name   string
		lines  []string
		reason string
		cause  string
		hint   string
	}{
		{"node, a release that throws (the lines TestGuides logs)", journalLines("node[577]",
			"/srv/hello/server.js:17", `throw new Error("release 4 cannot start")`, "^", "",
			"Error: release 4 cannot start",
			"    at Object.<anonymous> (/srv/hello/server.js:17:7)",
			"    at Module._compile (node:internal/modules/cjs/loader:1521:14)",
			"Node.js v20.20.2",
			"@app@spare.service: Main process exited, code=exited, status=1/FAILURE",
			"@app@spare.service: Failed with result 'exit-code'."),
			"job failed (result exit-code, exit status 1)", "Error: release 4 cannot start", ""},
		{"python, a traceback", journalLines("gunicorn[714]",
			"Traceback (most recent call last):",
			`  File "/srv/pyhello/hello.py", line 17, in <module>`,
			`    raise RuntimeError("release 4 cannot start")`,
			"RuntimeError: release 4 cannot start",
			"[2026-12-02 01:02:54 +0000] [714] [INFO] Worker exiting (pid: 714)"),
			"", "RuntimeError: release 4 cannot start", ""},
		{"ruby", journalLines("puma[961]",
			"/srv/rbhello/config.ru:15:in `block in <main>': release 4 cannot start (RuntimeError)",
			"        from /usr/lib/x86_64-linux-gnu/rubygems-integration/3.1.0/gems/puma-5.6.5/lib/puma/runner.rb:150:in `load_and_bind'"),
			"", "/srv/rbhello/config.ru:15:in `block in <main>': release 4 cannot start (RuntimeError)", ""},
		{"node writes its own directory (as TestRolloutSaysWhichSetting logs it)", journalLines("node[12]",
			"node:fs:581", "Error: EROFS: read-only file system, open '/srv/shop/cache/pages.json'",
			"    at Object.openSync (node:fs:581:18)",
			"    at node:internal/main/run_main_module:28:49 {", "  errno: -30,", "  code: 'EROFS',", "  syscall: 'open',", "  path: '/srv/shop/cache/pages.json'", "}", "Node.js v20.20.2"),
			"", "Error: EROFS: read-only file system, open '/srv/shop/cache/pages.json'", `read_write_paths = ["/srv/shop/cache"]`},
		{"in a directory of a user's", journalLines("node[12]", "Error: EROFS: read-only file system, open '/home/deployer/app/cache/x'"),
			"", "", `read_write_paths = ["/home/deployer/app/cache"] in app.toml (or the subdirectory it writes to; it must exist), and the instances must be allowed to write there: user = "deployer" in app.toml, its owner`},
		{"V8 under MemoryDenyWriteExecute= (as TestRolloutSaysWhichSetting logs it)", journalLines("node[160]", "#", "# Fatal error in , line 0", "# Check failed: 12 == (*__errno_location ()).", "#", "#FailureMessage Object: 0x7ffd09f72ff0", "----- Native stack trace -----",
			" 1: 0xd32b41  [/usr/bin/node]", " 2: 0x214a881 V8_Fatal(char const*, ...) [/usr/bin/node]",
			" 3: 0x21556a7 v8::base::OS::SetPermissions(void*, unsigned long, v8::base::OS::MemoryPermission) [/usr/bin/node]",
			" 4: 0x10962fe v8::internal::CodeRange::RemapEmbeddedBuiltins(v8::internal::Isolate*, unsigned char const*, unsigned long) [/usr/bin/node]",
			"@app@spare.service: Main process exited, code=killed, status=5/TRAP"),
			"job failed (result signal)", "# Check failed: 12 == (*__errno_location ()).", "memory_deny_write_execute = false"},
		{"python makes a directory", journalLines("gunicorn[9]", "OSError: [Errno 30] Read-only file system: '/srv/api/uploads'"),
			"", "OSError: [Errno 30] Read-only file system: '/srv/api/uploads'", `read_write_paths = ["/srv/api"]`},
		{"ruby writes a pid file", journalLines("puma[9]", "Read-only file system @ rb_sysopen - /srv/rbhello/tmp/pids/puma.pid (Errno::EROFS)"),
			"", "", `read_write_paths = ["/srv/rbhello/tmp/pids"]`},
		{"go", journalLines("hello[9]", "2026/12/02 01:05:58 open /var/lib/hello/state: read-only file system"),
			"", "", `read_write_paths = ["/var/lib/hello"]`},
		{"an app in a home directory", journalLines("node[9]", "Error: EACCES: permission denied, open '/home/deployer/app/server.js'"),
			"", "", `user = "deployer"`},
		{"listens itself (as TestRolloutSaysWhichSetting logs it)", journalLines("node[9]", "node:events:497", "      throw er; // Unhandled 'error' event", "      ^", "",
			"Error: listen EADDRINUSE: address already in use 127.0.0.1:8080", "    at Server.setupListenHandle [as _listen2] (node:net:1872:16)",
			"Emitted 'error' event on Server instance at:", "    at emitErrorNT (node:net:1851:8)", "  code: 'EADDRINUSE',", "  errno: -98,"),
			"", "Error: listen EADDRINUSE: address already in use 127.0.0.1:8080", "serve the socket systemd passes (fd 3, LISTEN_FDS)"},
		{"puma without sd_notify", journalLines("puma[771]", "[771] Systemd integration failed. It looks like you're trying to use systemd notify but don't have sd_notify gem installed"),
			"job failed (result timeout)", "", "apt-get install ruby-sd-notify"},
		{"a missing module", journalLines("node[9]", "Error: Cannot find module 'express'"),
			"", "Error: Cannot find module 'express'", "module express is not where the app looks"},
		{"never ready", journalLines("uvicorn[9]", "INFO:     Uvicorn running on socket ('127.0.0.1', 8080)"),
			"job failed (result timeout)", "", "did not say READY=1 within listen_timeout"},
		{"a socket family", journalLines("node[9]", "SystemError [ERR_SYSTEM_ERROR]: A system error occurred: uv_interface_addresses returned Unknown system error 97 (Address family not supported by protocol)"),
			"", "", "RestrictAddressFamilies="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Diagnose(tc.lines, tc.reason, owner)
			if tc.cause != "" {
				assert.Equal(t, tc.cause, d.Cause)
			}
			if tc.hint == "" {
				assert.Empty(t, d.Hints)
				return
			}
			assert.Contains(t, strings.Join(d.Hints, "\n"), tc.hint)
		})
	}
}

// Only the last attempt counts: an earlier failure's words are not this one's.
func TestDiagnoseReadsTheLastAttempt(t *testing.T) {
	lines := append(journalLines("node[1]", "@Starting app@spare.service - app cluster spare instance (rollout surge)...", "Error: EROFS: read-only file system, open '/srv/a/x'", "@app@spare.service: Failed with result 'exit-code'."),
		journalLines("node[2]", "@Starting app@spare.service - app cluster spare instance (rollout surge)...", "Error: listen EADDRINUSE: address already in use 127.0.0.1:8080", "@app@spare.service: Failed with result 'exit-code'.")...)
	d := Diagnose(lines, "", nil)
	assert.Equal(t, "Error: listen EADDRINUSE: address already in use 127.0.0.1:8080", d.Cause)
	assert.Len(t, d.Hints, 1)
	assert.Contains(t, d.Hints[0], "opens its own listening socket")
}

// The service manager's own lines are not the server's words.
func TestDiagnoseIgnoresTheManager(t *testing.T) {
	d := Diagnose(journalLines("x[1]", "@app@0.service: Failed with result 'exit-code'.", "@Failed to start app@0.service - app cluster instance 0."), "", nil)
	assert.Equal(t, Diagnosis{}, d)
}
