package cli

import (
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// completionScript is the bash completion the package ships.
const completionScript = "../../packaging/app-reloader.bash"

// complete runs the completion function in bash for the words typed so
// far (the last one being completed) and returns its suggestions.
func complete(t *testing.T, words ...string) []string {
	t.Helper()
	script := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _app_reloader; printf '%s\n' "${COMPREPLY[@]}"`
	out, err := exec.Command("bash", append([]string{"-c", script, "bash", completionScript, "app-reloader"}, words...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			got = append(got, l)
		}
	}
	sort.Strings(got)
	return got
}

var flagLine = regexp.MustCompile(`(?m)^  (-[a-z-]+)`)

func TestBashCompletion(t *testing.T) {
	cmds := Commands()
	sort.Strings(cmds)
	assert.Equal(t, append([]string{"--help", "-h"}, cmds...), complete(t, ""), "every command")
	assert.Equal(t, []string{"scale", "status"}, complete(t, "s"))
	assert.Equal(t, []string{"app", "auto"}, complete(t, "scale", "a"), "a count, or the app")

	// Every command's flags, as its -h lists them.
	for _, name := range Commands() {
		if name == "help" {
			continue
		}
		_, usage, _ := runCLI(name, "-h")
		want := []string{"-h"}
		for _, m := range flagLine.FindAllStringSubmatch(usage, -1) {
			want = append(want, m[1])
		}
		sort.Strings(want)
		assert.Equal(t, want, complete(t, name, "-"), "flags of %s", name)
	}
}

func TestManPageCoversTheCLI(t *testing.T) {
	b, err := readFile("../../packaging/man/app-reloader.1")
	require.NoError(t, err)
	man := strings.ReplaceAll(b, `\-`, "-")
	for _, name := range Commands() {
		assert.Regexp(t, `(?m)^\.BI?R? `+regexp.QuoteMeta(name)+`( |$)`, man, "man page: command %s", name)
		_, usage, _ := runCLI(name, "-h")
		for _, m := range flagLine.FindAllStringSubmatch(usage, -1) {
			assert.True(t, strings.Contains(man, m[1]), "man page: %s %s", name, m[1])
		}
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
