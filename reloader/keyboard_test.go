package reloader

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryCommandHasHelp(t *testing.T) {
	_, list, _ := runCLI("help")
	for _, name := range Commands() {
		assert.Contains(t, list, "\n  "+name+" ", "help lists %s", name)
		for _, h := range []string{"-h", "--help"} {
			code, out, errs := runCLI(name, h)
			assert.Equal(t, 0, code, "%s %s", name, h)
			assert.True(t, strings.HasPrefix(out, "usage: app-reloader "+name), "%s %s: usage on stdout, got %q", name, h, out)
			assert.Empty(t, errs)
		}
		code, out, _ := runCLI("help", name)
		assert.Equal(t, 0, code)
		assert.Contains(t, out, "usage: app-reloader "+name)
	}
	code, _, errs := runCLI("help", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `unknown command "frobnicate"`)
}

func TestCLIArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"describe"}, "app-reloader describe: missing argument"},
		{[]string{"describe", "0", "1"}, `app-reloader describe: unexpected argument "1"`},
		{[]string{"describe", "web"}, `instance "web": want its number (0), app@0 or app@0.service`},
		{[]string{"logs", "app@x"}, `instance "app@x"`},
		{[]string{"logs", "-n", "-3"}, "-n -3: want 0 or more"},
		{[]string{"scale"}, "app-reloader scale: missing argument"},
		{[]string{"top", "-interval", "1ms"}, "want -interval of 100ms or more"},
		{[]string{"import-pm2"}, "app-reloader import-pm2: missing argument"},
		{[]string{"status", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, errs := runCLI(tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Contains(t, errs, tc.want, "%v", tc.args)
	}
}

func TestInstanceUnit(t *testing.T) {
	for in, want := range map[string]string{"0": "app@0.service", "app@12": "app@12.service", "app@3.service": "app@3.service", "spare": "app@spare.service"} {
		got, err := InstanceUnit("app", in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	for _, in := range []string{"", "app@", "01", "-1", "app@0.socket", "web@0", "0 1"} {
		_, err := InstanceUnit("app", in)
		assert.Error(t, err, in)
	}
}

func TestScaleTarget(t *testing.T) {
	for arg, want := range map[string]string{"4": "4", "auto": "auto", "max": "auto", "+2": "5", "-2": "1"} {
		got, err := scaleTarget(arg, 3)
		require.NoError(t, err, arg)
		assert.Equal(t, want, got.String(), arg)
	}
	for arg, msg := range map[string]string{"-3": "3 - 3 is 0; want 1 to 256", "+300": "want 1 to 256", "0x2": `COUNT "0x2"`, "many": `COUNT "many"`, "257": "out of range"} {
		_, err := scaleTarget(arg, 3)
		require.Error(t, err, arg)
		assert.Contains(t, err.Error(), msg, arg)
	}
}

func TestCLIScaleRefusesBadCountAndKeepsConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.toml")
	orig := "instances = 2 # two\nlisten = [\"127.0.0.1:9000\"]\n"
	require.NoError(t, os.WriteFile(path, []byte(orig), 0o644))
	code, _, errs := runCLI("scale", "-config", path, "-5")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "nothing was changed")
	b, _ := os.ReadFile(path)
	assert.Equal(t, orig, string(b))
}

func TestCLIImportPM2(t *testing.T) {
	dir := t.TempDir()
	eco := filepath.Join(dir, "ecosystem.json")
	require.NoError(t, os.WriteFile(eco, []byte(`{"apps": [{"name": "api", "script": "/srv/api/server", "instances": 3, "watch": true, "env": {"A": "1"}}]}`), 0o644))
	code, out, errs := runCLI("import-pm2", eco)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "instances = 3\n")
	assert.Contains(t, out, "script = \"/srv/api/server\"\n")
	assert.Contains(t, errs, "not imported: watch: no file watching")

	// -o writes the file, which check accepts; an existing one is kept.
	toml := filepath.Join(dir, "app.toml")
	code, _, errs = runCLI("import-pm2", "-o", toml, eco)
	require.Equal(t, 0, code, errs)
	code, out, _ = runCLI("check", "-config", toml)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "ok (3 instances")
	code, _, errs = runCLI("import-pm2", "-o", toml, eco)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "file exists")

	code, out, _ = runCLI("import-pm2", "-json", eco)
	require.Equal(t, 0, code)
	var im map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &im))
	assert.ElementsMatch(t, []string{"app", "toml", "unmapped", "notes"}, keys(im))

	code, _, errs = runCLI("import-pm2", filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "no such file")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestStatusJSONFields(t *testing.T) {
	// The JSON of status is documented (man app-reloader, README): its
	// field names are a contract.
	st := Status{Socket: Unit{Name: "app.socket"}, Instances: []Unit{{Name: "app@0.service", Since: time.Unix(1, 0), Memory: 1, CPU: 1, StatusText: "s", ExitCode: 1, NeedDaemonReload: true, Listen: []string{"x"}, Accounting: AccountingProcess}},
		Sockets: []Unit{{Name: "app@0.socket"}}, LastRollout: &Report{}}
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var top map[string]any
	require.NoError(t, json.Unmarshal(b, &top))
	assert.ElementsMatch(t, []string{"socket", "instance_sockets", "configured_instances", "instances", "last_rollout"}, keys(top))
	inst := top["instances"].([]any)[0].(map[string]any)
	assert.ElementsMatch(t, []string{"unit", "active_state", "sub_state", "result", "pid", "since", "restarts", "memory_bytes", "cpu_nsec", "status_text", "exit_status", "need_daemon_reload", "listen", "accounting"}, keys(inst))
}

func TestLiveProgress(t *testing.T) {
	var out bytes.Buffer
	p := NewLiveProgress(&out, false)
	p.Event(Event{Step: Step{Unit: "app@0.service", Action: ActionRestart, OldPID: 10}, Index: 1, Total: 2})
	first := out.String()
	assert.Equal(t, "\r\x1b[2K… app@0.service restarting (pid 10)…\n\r\x1b[2K[1/2] steps\n", first)
	p.Event(Event{Step: Step{Unit: "app@0.service", Action: ActionRestart, OldPID: 10, NewPID: 11, Ready: time.Second, Took: time.Second}, Done: true, Index: 1, Total: 2})
	p.Event(Event{Step: Step{Unit: "app@1.service", Action: ActionRestart, OldPID: 12}, Index: 2, Total: 2})
	p.Event(Event{Step: Step{Unit: "app@1.service", Action: ActionRestart, OldPID: 12, Error: "job failed"}, Done: true, Index: 2, Total: 2})
	// What a terminal shows after the last draw: one line per instance.
	last := out.String()[strings.LastIndex(out.String(), "\x1b[3A"):]
	assert.Equal(t, "\x1b[3A\r\x1b[2K✓ app@0.service ready, pid 10 → 11 in 1s\n\r\x1b[2K✗ app@1.service FAILED after 0s: job failed\n\r\x1b[2K[2/2] steps\n", last)

	var col bytes.Buffer
	NewLiveProgress(&col, true).Event(Event{Step: Step{Unit: "app@0.service", Action: ActionStart}, Done: true, Index: 1, Total: 1})
	assert.Contains(t, col.String(), "\x1b[32m✓\x1b[0m")

	// Not a terminal: plain lines.
	var piped bytes.Buffer
	progressTo(&piped, false)(Event{Step: Step{Unit: "app@0.service", Action: ActionStart}, Index: 1, Total: 1})
	assert.Equal(t, "[1/1] app@0.service: starting…\n", piped.String())
}

func TestRenderTop(t *testing.T) {
	now := time.Now()
	st := Status{Configured: 2, Socket: Unit{Name: "app.socket", ActiveState: "active", Listen: []string{"127.0.0.1:8080"}},
		Instances: []Unit{
			{Name: "app@0.service", ActiveState: "active", SubState: "running", MainPID: 10, CPU: 1e9, Memory: 8 << 20, Since: now.Add(-time.Minute), StatusText: "serving version 1, 1000 requests"},
			{Name: "app@1.service", ActiveState: "activating", SubState: "start", MainPID: 11, NRestarts: 2, StatusText: "warming up"},
		}}
	var b bytes.Buffer
	prev := renderTop(&b, st, nil, now, time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+1m0s\s+0\s+-\s+8.0M\s+-\s+serving version 1\n`, b.String(), "no rates from a first sample")

	st.Instances[0].CPU, st.Instances[0].StatusText = 1.5e9, "serving version 1, 1500 requests"
	b.Reset()
	renderTop(&b, st, prev, now.Add(2*time.Second), time.Second, false)
	out := b.String()
	assert.Regexp(t, `app@0.service\s+active\s+10\s+1m2s\s+0\s+25.0\s+8.0M\s+250\s+serving version 1\n`, out, "CPU 0.5s in 2s, 500 requests in 2s")
	assert.Regexp(t, `app@1.service\s+activating/start\s+11\s+-\s+2\s+-\s+-\s+-\s+warming up\n`, out)
	assert.Contains(t, out, "1 of 2 instances active, 250 req/s")

	// The count comes once a second; refreshes in between keep the rate
	// (instead of showing 0 every other frame), until it is stale.
	prev = renderTop(&bytes.Buffer{}, st, prev, now.Add(2*time.Second), time.Second, false)
	b.Reset()
	prev2 := renderTop(&b, st, prev, now.Add(2500*time.Millisecond), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+\S+\s+0\s+\S+\s+8.0M\s+250\s+serving`, b.String())
	st.Instances[0].StatusText = "serving version 1, 2000 requests"
	b.Reset()
	prev2 = renderTop(&b, st, prev2, now.Add(3*time.Second), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+\S+\s+0\s+\S+\s+8.0M\s+500\s+serving`, b.String(), "500 more since the change seen at 2s")
	b.Reset()
	renderTop(&b, st, prev2, now.Add(7*time.Second), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+10\s+\S+\s+0\s+\S+\s+8.0M\s+0\s+serving`, b.String(), "no change for 4s: 0")

	// A new process starts its count again: no rate across it.
	st.Instances[0].MainPID, st.Instances[0].StatusText = 12, "serving version 1, 3 requests"
	b.Reset()
	renderTop(&b, st, prev, now.Add(3*time.Second), time.Second, false)
	assert.Regexp(t, `app@0.service\s+active\s+12\s+1m3s\s+0\s+-\s+8.0M\s+-`, b.String())
}

func TestLogLines(t *testing.T) {
	e, ok := parseEntry([]byte(`{"__REALTIME_TIMESTAMP":"1764115200123000","_SYSTEMD_UNIT":"app@1.service","_PID":"42","PRIORITY":"6","MESSAGE":"level=INFO msg=serving"}`))
	require.True(t, ok)
	var b bytes.Buffer
	writeLogLine(&b, e, false)
	assert.Equal(t, e.Time.Format("15:04:05.000")+" app@1  | level=INFO msg=serving\n", b.String())

	// systemd's own line about the instance, and a message in bytes.
	e, ok = parseEntry([]byte(`{"__REALTIME_TIMESTAMP":"1764115200123000","_SYSTEMD_UNIT":"init.scope","UNIT":"app@0.service","_PID":"1","PRIORITY":"6","MESSAGE":[83,116,97,114,116,101,100,255]}`))
	require.True(t, ok)
	assert.Equal(t, "app@0.service", e.Unit)
	b.Reset()
	writeLogLine(&b, e, false)
	assert.Contains(t, b.String(), " app@0  | systemd: Started\uFFFD\n")

	e, _ = parseEntry([]byte(`{"_SYSTEMD_UNIT":"app@2.service","PRIORITY":"3","MESSAGE":"boom"}`))
	b.Reset()
	writeLogLine(&b, e, true)
	assert.Contains(t, b.String(), "\x1b[31;1mboom\x1b[0m", "errors in red on a terminal")
	_, ok = parseEntry([]byte("-- No entries --"))
	assert.False(t, ok)
}

func TestWriteDescription(t *testing.T) {
	now := time.Now()
	d := Description{
		Unit:        Unit{Name: "app@0.service", ActiveState: "active", SubState: "running", MainPID: 7, Since: now.Add(-time.Hour), NRestarts: 1, Memory: 3 << 20},
		Description: "app instance 0", UnitFile: "/lib/systemd/system/app@.service", DropIns: []string{"/run/systemd/generator/app@.service.d/app.conf"},
		Command: []string{"/usr/bin/node", "/srv/my app/server.js"}, User: "app-worker", DynamicUser: true,
		Environment: []string{"APP_INSTANCE=0"}, Sockets: []Unit{{Name: "app.socket", ActiveState: "active", Listen: []string{"127.0.0.1:8080"}}},
		Limits: Limits{MemoryMax: 512 << 20, StartTimeout: 30 * time.Second, StopTimeout: 30 * time.Second, Restart: "on-failure", RestartDelay: 100 * time.Millisecond},
		Recent: []JournalLine{{Time: now, Message: "Started app@0.service - app instance 0."}},
	}
	var b bytes.Buffer
	WriteDescription(&b, d, now, false)
	out := b.String()
	for _, want := range []string{
		"unit            app@0.service (app instance 0)",
		"command         /usr/bin/node '/srv/my app/server.js'",
		"user            app-worker (dynamic)",
		"memory          3.0M of 512.0M",
		"timeouts        start 30s, stop 30s",
		"sockets         app.socket active 127.0.0.1:8080",
		"drop-ins        /run/systemd/generator/app@.service.d/app.conf",
		"environment\n  APP_INSTANCE=0\n",
		"Started app@0.service - app instance 0.",
	} {
		assert.Contains(t, out, want)
	}
}

func TestProcessUsage(t *testing.T) {
	// Burn some CPU, then read this process's own.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	cpu, rss, err := processUsage(uint32(os.Getpid()))
	require.NoError(t, err)
	assert.Greater(t, cpu, time.Duration(0))
	assert.Greater(t, rss, uint64(1<<20))
	_, _, err = processUsage(1 << 30)
	assert.Error(t, err)
}
