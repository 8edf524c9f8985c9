package reloader

import (
	"fmt"

	"path"
	"regexp"
	"strings"

	"example.com/app/units"
)

// Diagnosis is what a failed instance's log says went wrong, and what
// setting would let it start.
type Diagnosis struct {
	// Cause is the line of the server's own output that says why, as it
	// wrote it (a stack trace's message, not its frames).
	Cause string `json:"cause,omitempty"`
	// Hints name the app.toml setting (or drop-in, or package) to change.
	Hints []string `json:"hints,omitempty"`
}

// Owner tells who owns a file (for a hint to run as that user); nil or ""
// when unknown.
type Owner func(path string) string

// message strips journalctl's prefix ("Dec 02 01:01:41.694816 host
// node[577]: ") from a line, and says whether the service manager wrote it.
func message(line string) (msg string, manager bool) {
	i := strings.Index(line, "]: ")
	if i < 0 {
		return line, false
	}
	head := line[:i]
	return line[i+3:], strings.HasSuffix(head, " systemd[1") || strings.Contains(head, " systemd[1")
}

// frame: a line of a stack trace, not its message.
var frame = regexp.MustCompile(`^\s+(at |from |File "|\^)|^\s*Traceback \(most recent call last\)|^goroutine \d+ |^\S+\.go:\d+|^\s+\w+: |^\s*[{}]\s*$|^\s*\d+: 0x`)

// errorish: a line that states an error.
var errorish = regexp.MustCompile(`(?i:\b(\w*error|\w*exception|fatal|panic|cannot|could not|can't|refused|denied|not found|no such|failed to|check failed|not permitted)\b)|\bE[A-Z]{3,}\b:`)

type rule struct {
	re   *regexp.Regexp
	hint func(m []string, owner Owner) string
}

// rules map what servers write when the sandbox or the setup is in their
// way to what would let them start. The paths in the messages are those
// the servers name (Node: EROFS … 'path'; Python: [Errno 30] …: 'path';
// Ruby: … @ rb_sysopen - path; Go: open path: …).
var rules = []rule{
	{regexp.MustCompile(`EROFS: read-only file system, (\w+) '([^']+)'|\[Errno 30\] Read-only file system: '()([^']+)'|Read-only file system @ \w+ - ()(\S+)|(open|mkdir|create|remove|rename|symlink|link|chmod) (/\S*): read-only file system`), writeHint},
	{regexp.MustCompile(`(?i)read-only file system`), func([]string, Owner) string {
		return "it writes where the sandbox lets it read only: read_write_paths = [\"<the directory it writes to>\"] in app.toml (it must exist)"
	}},
	{regexp.MustCompile(`EACCES: permission denied, (\w+) '([^']+)'|\[Errno 13\] Permission denied: '()([^']+)'|Permission denied @ \w+ - ()(\S+)|(open|mkdir|create|remove|rename|stat|lstat|chdir) (/\S*): permission denied`), accessHint},
	{regexp.MustCompile(`EADDRINUSE|[Aa]ddress already in use`), func([]string, Owner) string {
		return "the server opens its own listening socket on an address app's socket already holds: make it serve the socket systemd passes (fd 3, LISTEN_FDS) instead; " + units.GuidesDir + " has how, per runtime"
	}},
	{regexp.MustCompile(`sd_notify gem|Systemd integration failed`), func([]string, Owner) string {
		return "puma needs the sd_notify gem to say READY=1: apt-get install ruby-sd-notify (" + units.GuidesDir + "/puma.md)"
	}},
	{regexp.MustCompile(`Cannot find module '([^']+)'|No module named '([^']+)'|cannot load such file -- (\S+)`), func(m []string, _ Owner) string {
		return fmt.Sprintf("module %s is not where the app looks: install it, or set cwd in app.toml to the app's directory (where its node_modules, packages or Gemfile are)", firstOf(m[1:]))
	}},
	{regexp.MustCompile(`EAFNOSUPPORT|Address family not supported by protocol`), func([]string, Owner) string {
		return "it opens a socket family the sandbox refuses (RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6): allow it in a drop-in, systemctl edit app@.service, e.g. [Service] RestrictAddressFamilies=AF_NETLINK, then app-reloader reload"
	}},
	{regexp.MustCompile(`(?i)mprotect|memory_deny_write_execute|failed to (allocate|reserve|commit) (executable|code)|CodeRange|SetPermissions`), func([]string, Owner) string {
		return "its runtime compiles code to memory (a JIT), which MemoryDenyWriteExecute= forbids: memory_deny_write_execute = false in app.toml"
	}},
	{regexp.MustCompile(`(?i)operation not permitted|\bEPERM\b`), func([]string, Owner) string {
		return "it made a system call or asked for a privilege the sandbox withholds (README: Sandbox): allow it in a drop-in, systemctl edit app@.service (SystemCallFilter=, with SystemCallLog= to find the call)"
	}},
}

func firstOf(s []string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// opPath picks the operation and path out of a rule's match, whichever
// alternative matched (pairs of groups).
func opPath(m []string) (op, p string) {
	for i := 1; i+1 < len(m); i += 2 {
		if m[i+1] != "" {
			return m[i], m[i+1]
		}
	}
	return "", ""
}

func writeHint(m []string, owner Owner) string {
	_, p := opPath(m)
	dir := path.Dir(p) // the file's directory, or the parent of the one it makes
	who := `user = "…" in app.toml, a user who may write there`
	if owner != nil {
		if o := owner(dir); o != "" && o != "root" {
			who = fmt.Sprintf("user = %q in app.toml, its owner", o)
		}
	}
	return fmt.Sprintf("it writes %s, where the sandbox lets it read only: read_write_paths = [%q] in app.toml (or the subdirectory it writes to; it must exist), and the instances must be allowed to write there: %s", p, dir, who)
}

func accessHint(m []string, owner Owner) string {
	_, p := opPath(m)
	if owner != nil {
		if o := owner(p); o != "" && o != "root" {
			return fmt.Sprintf("the instances run as a user of their own (app-worker), and may not use %s, which belongs to %s: user = %q in app.toml runs them as its owner", p, o, o)
		}
	}
	return fmt.Sprintf("the instances run as a user of their own (app-worker), and may not use %s: make it readable, or run them as its owner with user = \"…\" in app.toml", p)
}

// lastAttempt is the lines from the service manager's last "Starting"
// line on: an earlier failure's words are not this one's.
func lastAttempt(lines []string) []string {
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, manager := message(lines[i]); manager && strings.HasPrefix(msg, "Starting ") {
			return lines[i:]
		}
	}
	return lines
}

// Diagnose reads a failed instance's last log lines (journalctl's short
// form) and the reason the rollout gave; only its last attempt counts.
func Diagnose(lines []string, reason string, owner Owner) Diagnosis {
	lines = lastAttempt(lines)
	var d Diagnosis
	seen := map[string]bool{}
	add := func(h string) {
		if !seen[h] {
			seen[h] = true
			d.Hints = append(d.Hints, h)
		}
	}
	// The cause: the first line a rule explains, else the last that
	// states an error; never a stack frame.
	ruled := ""
	for _, l := range lines {
		msg, manager := message(l)
		if manager {
			continue
		}
		isFrame := frame.MatchString(msg)
		for _, r := range rules {
			if m := r.re.FindStringSubmatch(msg); m != nil {
				add(r.hint(m, owner))
				if ruled == "" && !isFrame {
					ruled = strings.TrimSpace(msg)
				}
				break
			}
		}
		if !isFrame && errorish.MatchString(msg) {
			d.Cause = strings.TrimSpace(msg)
		}
	}
	if ruled != "" {
		d.Cause = ruled
	}
	if strings.Contains(reason, "result timeout") && !strings.Contains(reason, "stop") {
		add("it did not say READY=1 within listen_timeout: a server must send READY=1 (sd_notify) once it accepts, natively, through a helper, or under a manager that does (" + units.GuidesDir + "); raise listen_timeout if it only boots slowly")
	}
	return d
}
