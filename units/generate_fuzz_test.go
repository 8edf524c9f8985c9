package units

import (
	"regexp"
	"strings"
	"testing"
)

// directives are every setting the generator may write, by section. A line
// of its output that is not one of them was written by a value.
var directives = map[string][]string{
	"Unit":   {"Description", "Documentation", "Requires", "After", "BindsTo", "PartOf"},
	"Socket": {"ListenStream", "ReusePort", "Backlog", "TriggerLimitIntervalSec", "TriggerLimitBurst"},
	"Service": {"Sockets", "ExecStart", "ExecCondition", "WorkingDirectory", "DynamicUser", "User", "Group", "ProtectHome",
		"RemoveIPC", "ReadWritePaths", "MemoryDenyWriteExecute", "EnvironmentFile", "Environment", "RuntimeDirectory",
		"RuntimeDirectoryMode", "RuntimeDirectoryPreserve", "InaccessiblePaths", "TimeoutStartSec",
		"TimeoutStopSec", "MemoryMax", "Restart"},
}

// FuzzGenerate writes arbitrary strings into every string key of app.toml
// and splits what the generator then writes the way systemd reads it: a
// line ends at a line feed, a carriage return or a NUL. Each line must be
// a comment, a section header, or exactly one directive the generator
// writes; the command line and the environment must read back as the
// values given, and no value may relax the sandbox (DynamicUser=no, User=)
// unless user is set.
func FuzzGenerate(f *testing.F) {
	for _, s := range [][7]string{
		{"/usr/bin/app", "--port=fd:3", "/srv", "NODE_ENV", "production", "/run/a.sock", "/srv/data"},
		{"/srv\nDynamicUser=no\nUser=root\nExecStartPre=+/some/cmd", "x", "/srv\nUser=root", "FOO", "bar\rDynamicUser=no\rUser=root", "/run/a.sock\nExecStartPre=/some/cmd", "/srv\r"},
		{"/opt/my app/bin/server", "$HOME %n \"q\" \\ `x`", "/srv/100%", "DB_PASSWORD", "pa$word'\"\\`$(id)%n", "/run/x%i.sock", "/srv/100%"},
		{"/usr/bin/node", "", "/", "A", "\x00", "/run/\x00", "/srv"},
		{"/usr/bin/x", "a\u0085b", "/srv", "A", " spaced  ", "/run/y.sock", "/srv/z"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	f.Fuzz(func(t *testing.T, script, arg, cwd, envKey, envValue, listen, rw string) {
		doc := strings.Join([]string{
			"script = " + tomlString(script),
			"args = [" + tomlString(arg) + "]",
			"cwd = " + tomlString(cwd),
			"listen = [" + tomlString(listen) + ", \"127.0.0.1:8080\"]",
			"read_write_paths = [" + tomlString(rw) + "]",
			"[env]",
			tomlString(envKey) + " = " + tomlString(envValue),
		}, "\n") + "\n"
		cfg, err := Parse("app.toml", []byte(doc))
		if err != nil {
			return
		}
		// In memory: the fuzzer runs it thousands of times a second.
		files, err := generatedFiles(cfg, "app.toml", GeneratorDir)
		if err != nil {
			t.Fatalf("accepted config does not generate: %v", err)
		}
		for name, f := range files {
			if name == EnvFile {
				checkEnvFile(t, f.content, cfg.Env)
			} else {
				checkUnitFile(t, name, f.content, cfg)
			}
		}
	})
}

var systemdLineEnd = regexp.MustCompile("[\n\r\x00]")

func checkUnitFile(t *testing.T, name, content string, cfg Config) {
	t.Helper()
	if lines, byLF := systemdLineEnd.Split(content, -1), strings.Split(content, "\n"); len(lines) != len(byLF) {
		t.Fatalf("%s: %d lines as systemd reads it, %d by line feeds:\n%q", name, len(lines), len(byLF), content)
	}
	section := ""
	for _, line := range strings.Split(content, "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			if _, ok := directives[section]; !ok || line != "["+section+"]" {
				t.Fatalf("%s: section %q", name, line)
			}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || !contains(directives[section], key) {
			t.Fatalf("%s: [%s] %q is not a directive the generator writes", name, section, line)
		}
		switch key {
		case "ExecStart":
			if value == "" {
				continue
			}
			words := execWords(t, value)
			want := append([]string{string(cfg.Script)}, cfg.Args...)
			if strings.Join(words, "\x00") != strings.Join(want, "\x00") {
				t.Fatalf("%s: ExecStart reads back as %q, not %q", name, words, want)
			}
		case "DynamicUser", "User", "Group", "ProtectHome", "RemoveIPC":
			if cfg.User == "" {
				t.Fatalf("%s: %q relaxes the sandbox and user is not set", name, line)
			}
		case "Environment":
			if !strings.HasPrefix(value, "APP_") {
				t.Fatalf("%s: %q: the configured environment goes to the environment file", name, line)
			}
		case "WorkingDirectory", "ReadWritePaths", "ListenStream":
			if unescaped := strings.ReplaceAll(value, "%%", ""); strings.Contains(unescaped, "%") {
				t.Fatalf("%s: %q has an unescaped specifier", name, line)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// execWords reads a command line as systemd does: specifiers (%%) first,
// then words, each in double quotes here, with \\ and \" unescaped; $$ is
// a literal $ when it runs.
func execWords(t *testing.T, line string) []string {
	t.Helper()
	if strings.Contains(strings.ReplaceAll(line, "%%", ""), "%") {
		t.Fatalf("ExecStart %q has an unescaped specifier", line)
	}
	line = strings.ReplaceAll(line, "%%", "%")
	var words []string
	for line != "" {
		if line[0] != '"' {
			t.Fatalf("ExecStart word not quoted: %q", line)
		}
		var b strings.Builder
		i := 1
		for ; i < len(line) && line[i] != '"'; i++ {
			if line[i] == '\\' && i+1 < len(line) {
				i++
			}
			b.WriteByte(line[i])
		}
		if i >= len(line) {
			t.Fatalf("ExecStart word not closed: %q", line)
		}
		w := b.String()
		if strings.Contains(strings.ReplaceAll(w, "$$", ""), "$") {
			t.Fatalf("ExecStart word %q has an unescaped $", w)
		}
		words = append(words, strings.ReplaceAll(w, "$$", "$"))
		line = strings.TrimPrefix(line[i+1:], " ")
	}
	return words
}

// checkEnvFile reads the environment file back, as systemd's
// EnvironmentFile= reads the forms the generator writes, and compares.
func checkEnvFile(t *testing.T, content string, want map[string]string) {
	t.Helper()
	if lines, byLF := systemdLineEnd.Split(content, -1), strings.Split(content, "\n"); len(lines) != len(byLF) {
		t.Fatalf("env file: %d lines as systemd reads it, %d by line feeds:\n%q", len(lines), len(byLF), content)
	}
	vars, err := ReadEnvironmentFile(content)
	if err != nil {
		t.Fatalf("%v:\n%s", err, content)
	}
	got := map[string]string{}
	for _, kv := range vars {
		got[kv[0]] = kv[1]
	}
	if len(got) != len(want) || len(vars) != len(want) {
		t.Fatalf("env file has %d variables, the config %d", len(vars), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("env file: %s reads back as %q, not %q", k, got[k], v)
		}
	}
}
