package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// suggest asks the completion engine every shell's script asks
// (app-reloader __complete WORDS…, the last word being completed): the
// suggestions, without descriptions, and the directive.
func suggest(t *testing.T, words ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	code, out, errs := runCLI(append([]string{cobra.ShellCompNoDescRequestCmd}, words...)...)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(last, ":"), "directive line: %q", out)
	var d int
	for _, c := range last[1:] {
		d = d*10 + int(c-'0')
	}
	got := lines[:len(lines)-1]
	sort.Strings(got)
	return got, cobra.ShellCompDirective(d)
}

// flagLine is a flag in a command's help: "  -n, --lines int" or
// "      --json".
var flagLine = regexp.MustCompile(`(?m)^  (?:(-[a-z]), )?\s*(--[a-z-]+)`)

// helpFlags are the flags a command's help lists, long and short.
func helpFlags(t *testing.T, name string) []string {
	t.Helper()
	_, usage, _ := runCLI(name, "--help")
	var flags []string
	for _, m := range flagLine.FindAllStringSubmatch(usage, -1) {
		flags = append(flags, m[2])
		if m[1] != "" {
			flags = append(flags, m[1])
		}
	}
	sort.Strings(flags)
	return flags
}

func TestCompletion(t *testing.T) {
	cmds, d := suggest(t, "")
	assert.Equal(t, cobra.ShellCompDirectiveNoFileComp, d)
	want := Commands()
	sort.Strings(want)
	assert.Equal(t, want, cmds, "every command")
	got, _ := suggest(t, "s")
	assert.Equal(t, []string{"scale", "status", "steer"}, got)

	// The apps: app, and what --apps holds.
	apps := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(apps, "web.toml"), nil, 0o600))
	got, _ = suggest(t, "scale", "--apps", apps, "")
	assert.Equal(t, []string{"+1", "-1", "app", "auto", "web"}, got, "a count, or the app")
	got, _ = suggest(t, "scale", "--apps", apps, "web", "")
	assert.Equal(t, []string{"+1", "-1", "auto"}, got, "after the app, its count")
	got, _ = suggest(t, "reload", "-apps", apps, "")
	assert.Equal(t, []string{"app", "web"}, got, "one-dash flags count too")

	// Every command's flags, as its help lists them.
	for _, name := range Commands() {
		if name == "help" || name == "completion" {
			continue
		}
		got, _ := suggest(t, name, "-")
		assert.Equal(t, helpFlags(t, name), got, "flags of %s", name)
	}
	got, d = suggest(t, "logs", "--priority", "")
	assert.Equal(t, cobra.ShellCompDirectiveNoFileComp, d)
	assert.Contains(t, got, "err")
	_, d = suggest(t, "reload", "--config", "")
	assert.Equal(t, cobra.ShellCompDirectiveDefault, d, "--config: a file")
	got, d = suggest(t, "import-pm2", "")
	assert.Equal(t, cobra.ShellCompDirectiveFilterFileExt, d)
	assert.Contains(t, got, "js")
	got, _ = suggest(t, "help", "")
	assert.Equal(t, want, got, "help COMMAND")
}

// binDir holds the app-reloader the shell tests build (see TestMain).
var binDir string

// buildReloader builds app-reloader once for the shell tests: their
// scripts run it to complete.
var buildReloader = sync.OnceValues(func() (string, error) {
	dir := binDir
	out, err := exec.Command("go", "build", "-o", dir, "../../cmd/app-reloader").CombinedOutput()
	if err != nil {
		return "", &exec.Error{Name: "go build: " + string(out), Err: err}
	}
	return dir, nil
})

// shell runs script in shell with the built app-reloader first on PATH.
func shell(t *testing.T, sh string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(sh); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (make e2e-deps installs it)", sh)
		}
		t.Skipf("%s is not installed (apt-get install %s)", sh, sh)
	}
	dir, err := buildReloader()
	require.NoError(t, err)
	cmd := exec.Command(sh, args...)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

func words(s string) []string {
	f := strings.Fields(s)
	sort.Strings(f)
	return f
}

// TestShellCompletionScripts drives the scripts the package installs, as
// each shell would.
func TestShellCompletionScripts(t *testing.T) {
	t.Run("bash", func(t *testing.T) {
		out := shell(t, "bash", "-c", `source /usr/share/bash-completion/bash_completion; source <(app-reloader completion bash)
complete -p app-reloader >/dev/null
COMP_WORDS=(app-reloader logs --l); COMP_CWORD=2; COMP_LINE="app-reloader logs --l"; COMP_POINT=${#COMP_LINE}
__start_app-reloader 2>/dev/null; echo "${COMPREPLY[@]}"`)
		assert.Equal(t, []string{"--lines"}, words(out))
	})
	t.Run("zsh", func(t *testing.T) {
		out := shell(t, "zsh", "-c", `app-reloader completion zsh > "$HOME/_app-reloader" && zsh -n "$HOME/_app-reloader" && grep -c "__complete" "$HOME/_app-reloader"`)
		assert.NotEqual(t, "0", strings.TrimSpace(out), "the zsh script asks app-reloader")
	})
	t.Run("fish", func(t *testing.T) {
		out := shell(t, "fish", "-c", `app-reloader completion fish | source; complete -C "app-reloader sta"`)
		assert.Equal(t, []string{"status"}, firstWords(out))
		out = shell(t, "fish", "-c", `app-reloader completion fish | source; complete -C "app-reloader top --int"`)
		assert.Equal(t, []string{"--interval"}, firstWords(out))
	})
}

// firstWords are the completions fish prints, one per line with its
// description after a tab.
func firstWords(out string) []string {
	var w []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			w = append(w, strings.SplitN(l, "\t", 2)[0])
		}
	}
	sort.Strings(w)
	return w
}

func TestManPageCoversTheCLI(t *testing.T) {
	b, err := os.ReadFile("../../packaging/man/app-reloader.1")
	require.NoError(t, err)
	man := strings.ReplaceAll(string(b), `\-`, "-")
	for _, name := range Commands() {
		assert.Regexp(t, `(?m)^\.BI?R? `+regexp.QuoteMeta(name)+`( |$)`, man, "man page: command %s", name)
		for _, f := range helpFlags(t, name) {
			if f == "--help" || f == "-h" {
				continue
			}
			assert.True(t, strings.Contains(man, f), "man page: %s %s", name, f)
		}
		if c := lookup(name); c != nil {
			for _, a := range c.aliases {
				assert.Contains(t, man, ".B "+a+"\n", "man page: %s's alias %s", name, a)
			}
		}
	}
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "app-reloader-completion-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
