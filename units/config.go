package units

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultConfigPath is where the package installs the configuration.
const DefaultConfigPath = "/etc/app/app.toml"

// MaxInstances bounds `instances`.
const MaxInstances = 256

// ErrInvalid is wrapped by every error about the content of a config file.
var ErrInvalid = errors.New("invalid configuration")

// Config is /etc/app/app.toml.
type Config struct {
	// cluster is the app this configures (see [Config.Of]); the zero value
	// is the package's own, [App].
	cluster Cluster

	Instances        Instances         `toml:"instances"`
	Listen           []Address         `toml:"listen"`
	Script           Path              `toml:"script"`
	Args             []string          `toml:"args"`
	Cwd              Path              `toml:"cwd"`
	Env              map[string]string `toml:"env"`
	ListenTimeout    Duration          `toml:"listen_timeout"`
	KillTimeout      Duration          `toml:"kill_timeout"`
	MaxMemoryRestart Memory            `toml:"max_memory_restart"`
	// MinUptime is how long a restarted instance must stay up (same PID,
	// no restart) after READY=1 before a rollout moves on: pm2's
	// min_uptime, Kubernetes' minReadySeconds. 0 moves on at once.
	MinUptime Duration `toml:"min_uptime"`
	// CanaryUptime is how long the first instance of a new release a
	// rollout starts (the spare, or without one the first instance
	// restarted) must stay up after READY=1 before any other instance is
	// touched, when longer than MinUptime. A server that says READY=1
	// before its workers boot (gunicorn's master) is caught there. 0
	// turns it off.
	CanaryUptime Duration `toml:"canary_uptime"`
	// MaxRestarts is how many restarts within a minute an instance gets
	// before the crash-loop guard keeps it down (pm2's max_restarts).
	MaxRestarts int `toml:"max_restarts"`
	// Surge is whether a rollout first starts one extra instance of the
	// new release (app@spare) and restarts the others only once it is
	// ready: "auto" (the default: on unless the machine lacks the memory
	// for one more instance), true or false.
	Surge Surge `toml:"surge"`
	// ProbePath, if set, is the HTTP path a rollout requests through each
	// started instance's own probe socket (APP_PROBE_SOCKET) after READY=1
	// and min_uptime; it must answer 2xx or 3xx within ProbeTimeout before
	// the rollout moves on.
	ProbePath    ProbePath `toml:"probe_path"`
	ProbeTimeout Duration  `toml:"probe_timeout"`
	// Socket is how the instances listen: SocketShared (the default), one
	// socket whose accept queue they all take from; or SocketReusePort,
	// one SO_REUSEPORT socket per instance (app@N.socket) on the same
	// addresses, among which the kernel spreads new connections evenly.
	Socket SocketMode `toml:"socket"`
	// User, if set, is the existing account the instances run as instead
	// of the dynamic user app-worker they share: for an app that lives
	// under /home, or reads or writes files only that account may.
	User UserName `toml:"user"`
	// ReadWritePaths are what the instances may write besides their own
	// /tmp and the probe directory: the rest of the file system is
	// read-only to them (ProtectSystem=strict, ReadWritePaths=).
	ReadWritePaths []Path `toml:"read_write_paths"`
	// MemoryDenyWriteExecute is whether the instances may not map memory
	// both writable and executable: "auto" (the default: not for a JIT
	// runtime such as node or java, see [JITRuntimes]), true or false.
	MemoryDenyWriteExecute WriteExecute `toml:"memory_deny_write_execute"`
}

// Default is the configuration of a fresh install.
func Default() Config {
	return Config{
		Instances:     Instances{Auto: true},
		Listen:        []Address{"127.0.0.1:8080"},
		Script:        "/usr/bin/app",
		ListenTimeout: Duration(30 * time.Second),
		KillTimeout:   Duration(30 * time.Second),
		MaxRestarts:   5,
		CanaryUptime:  Duration(DefaultCanaryUptime),
		Surge:         SurgeAuto,
		ProbeTimeout:  Duration(10 * time.Second),
		Socket:        SocketShared,

		MemoryDenyWriteExecute: WriteExecuteAuto,
	}
}

// DefaultCanaryUptime is canary_uptime's default: what a rollout costs
// once (not per instance) to catch a release whose processes die within
// seconds of READY=1 before it touches a running instance.
const DefaultCanaryUptime = 2 * time.Second

// JITRuntimes are the script names for which memory_deny_write_execute =
// "auto" allows writable and executable memory: their JIT compilers need
// it, and MemoryDenyWriteExecute=yes makes them crash at start.
var JITRuntimes = []string{"node", "nodejs", "npm", "npx", "yarn", "pnpm", "bun", "deno", "java", "dotnet", "pypy", "pypy3", "luajit"}

// DenyWriteExecute resolves memory_deny_write_execute.
func (c Config) DenyWriteExecute() bool {
	switch c.MemoryDenyWriteExecute {
	case WriteExecuteDeny:
		return true
	case WriteExecuteAllow:
		return false
	}
	return !slices.Contains(JITRuntimes, filepath.Base(c.Program()))
}

// Program is what script runs, seen through /usr/bin/env: "node" for
// script = "/usr/bin/env", args = ["node", "server.js"].
func (c Config) Program() string {
	if filepath.Base(string(c.Script)) != "env" {
		return string(c.Script)
	}
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "-") && !strings.Contains(a, "=") {
			return a
		}
	}
	return string(c.Script)
}

// hiddenHomes are what ProtectHome=yes hides from the instances.
var hiddenHomes = []string{"/home", "/root", "/run/user"}

func under(p string, dirs []string) string {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return d
		}
	}
	return ""
}

// Count is the number of instances to run: the configured number, or for
// "auto" one per CPU and at least 2.
func (c Config) Count() int {
	if c.Instances.Auto {
		return max(2, runtime.NumCPU())
	}
	return c.Instances.N
}

// Load reads a config file. A missing file is the default configuration.
// Errors name the file and, where known, the line.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses the content of a config file; name is used in errors.
func Parse(name string, data []byte) (Config, error) {
	cfg := Default()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return Config{}, fmt.Errorf("%s:%d: %s: %w", name, perr.Position.Line, strings.TrimPrefix(perr.Message, "toml: "), ErrInvalid)
		}
		return Config{}, fmt.Errorf("%s: %s: %w", name, strings.TrimPrefix(err.Error(), "toml: "), ErrInvalid)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var errs []error
		for _, k := range und {
			errs = append(errs, fmt.Errorf("%s:%d: unknown key %q (known: %s): %w", name, keyLine(data, k), k.String(), strings.Join(knownKeys(), ", "), ErrInvalid))
		}
		return Config{}, errors.Join(errs...)
	}
	var errs []error
	for _, d := range []struct {
		key string
		v   Duration
	}{{"listen_timeout", cfg.ListenTimeout}, {"kill_timeout", cfg.KillTimeout}, {"probe_timeout", cfg.ProbeTimeout}} {
		if d.v.Std() < time.Second {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %v: want from 1s to 24h: %w", name, keyLine(data, toml.Key{d.key}), d.key, d.v.Std(), ErrInvalid))
		}
	}
	if cfg.MaxRestarts < 0 || cfg.MaxRestarts > 1000 {
		errs = append(errs, fmt.Errorf("%s:%d: max_restarts: %d: want 0 to 1000: %w", name, keyLine(data, toml.Key{"max_restarts"}), cfg.MaxRestarts, ErrInvalid))
	}
	if len(cfg.Listen) == 0 {
		errs = append(errs, fmt.Errorf("%s:%d: listen: at least one address is needed: %w", name, keyLine(data, toml.Key{"listen"}), ErrInvalid))
	}
	if cfg.Socket == SocketReusePort {
		for _, a := range cfg.Listen {
			if strings.HasPrefix(string(a), "/") {
				errs = append(errs, fmt.Errorf("%s:%d: listen: %q: socket = %q takes TCP addresses only (a Unix socket path cannot be bound once per instance): %w", name, keyLine(data, toml.Key{"listen"}), a, SocketReusePort, ErrInvalid))
			}
		}
		if cfg.Surge == SurgeOn {
			errs = append(errs, fmt.Errorf("%s:%d: surge = true needs socket = %q: with %q the spare's own socket would take a share of new connections and reset those still queued when it closes: %w", name, keyLine(data, toml.Key{"surge"}), SocketShared, SocketReusePort, ErrInvalid))
		}
	}
	if cfg.User == "" {
		type keyed struct {
			key  string
			path Path
		}
		paths := []keyed{{"script", cfg.Script}, {"cwd", cfg.Cwd}}
		for _, p := range cfg.ReadWritePaths {
			paths = append(paths, keyed{"read_write_paths", p})
		}
		for _, p := range paths {
			if d := under(string(p.path), hiddenHomes); d != "" {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %q is under %s, which the instances' sandbox hides from their dynamic user (ProtectHome=yes): set user to the account that owns it: %w", name, keyLine(data, toml.Key{p.key}), p.key, p.path, d, ErrInvalid))
			}
		}
	}
	for _, p := range cfg.ReadWritePaths {
		if string(p) == "/" || filepath.Clean(string(p)) != string(p) || strings.ContainsAny(string(p), " \t\n\"'\\") {
			errs = append(errs, fmt.Errorf("%s:%d: read_write_paths: %q: want a clean absolute path other than / (no spaces or quotes): %w", name, keyLine(data, toml.Key{"read_write_paths"}), p, ErrInvalid))
		}
	}
	errs = append(errs, cfg.textErrors(func(k toml.Key) string { return fmt.Sprintf("%s:%d: ", name, keyLine(data, k)) })...)
	return cfg, errors.Join(errs...)
}

// textErrors checks every string of the configuration; where says where
// a key is set, as a prefix of the error.
func (c Config) textErrors(where func(toml.Key) string) []error {
	var errs []error
	for _, f := range c.texts() {
		if err := checkText(f.value); err != nil {
			errs = append(errs, fmt.Errorf("%s%s: %w: %w", where(f.key), f.name, err, ErrInvalid))
		}
	}
	for _, k := range c.envNames() {
		if !envName.MatchString(k) {
			errs = append(errs, fmt.Errorf("%senv: %q is not a valid variable name: %w", where(toml.Key{"env", k}), k, ErrInvalid))
		}
	}
	return errs
}

// envNames are the names of cfg.Env, sorted.
func (c Config) envNames() []string {
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// text is one string of a configuration, named as app.toml writes it.
type text struct {
	key   toml.Key // where it is set, for the line number
	name  string   // how an error names it: "args", "env.FOO"
	value string
}

// texts are every string a configuration holds: everything that ends up
// in a unit file or an environment file, checked in one place
// (textErrors).
func (c Config) texts() []text {
	out := []text{
		{toml.Key{"script"}, "script", string(c.Script)},
		{toml.Key{"cwd"}, "cwd", string(c.Cwd)},
		{toml.Key{"user"}, "user", string(c.User)},
		{toml.Key{"probe_path"}, "probe_path", string(c.ProbePath)},
	}
	for _, a := range c.Args {
		out = append(out, text{toml.Key{"args"}, "args", a})
	}
	for _, a := range c.Listen {
		out = append(out, text{toml.Key{"listen"}, "listen", string(a)})
	}
	for _, p := range c.ReadWritePaths {
		out = append(out, text{toml.Key{"read_write_paths"}, "read_write_paths", string(p)})
	}
	for _, k := range c.envNames() {
		// The names are checked by textErrors, against envName; an
		// error names a bad one quoted.
		name := "env." + k
		if !envName.MatchString(k) {
			name = "env." + strconv.Quote(k)
		}
		out = append(out, text{toml.Key{"env", k}, name, c.Env[k]})
	}
	return out
}

// ErrControlChar is wrapped by the error about a string that holds a
// control character.
var ErrControlChar = errors.New("control characters are refused")

// checkText refuses a control character (C0, DEL or C1) anywhere in s.
// systemd ends a unit-file line at a line feed, a carriage return and a
// NUL alike, so quoting cannot make one safe: a value holding one would
// write settings of its own into the generated units. No setting needs
// one.
func checkText(s string) error {
	for i, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return fmt.Errorf("%U at byte %d: %w (systemd ends a unit-file line at a line break)", r, i, ErrControlChar)
		}
	}
	return nil
}

// Check refuses a configuration that was not read by [Parse] (built in
// code) if it holds a string [Parse] would refuse.
func (c Config) Check() error {
	return errors.Join(c.textErrors(func(toml.Key) string { return "" })...)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func knownKeys() []string {
	return []string{"instances", "listen", "script", "args", "cwd", "env", "listen_timeout", "kill_timeout", "max_memory_restart", "min_uptime", "canary_uptime", "max_restarts", "surge", "probe_path", "probe_timeout", "socket", "user", "read_write_paths", "memory_deny_write_execute"}
}

// keyLine finds the line where a key is set, for errors the TOML decoder
// reports without one. It returns 0 when it cannot tell.
func keyLine(data []byte, key toml.Key) int {
	table, leaf := key[:len(key)-1].String(), key[len(key)-1]
	current := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			current = strings.TrimSpace(strings.Trim(line, "[]"))
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if ok && current == table && keyName(strings.TrimSpace(k)) == leaf {
			return n
		}
	}
	return 0
}

// keyName reads a key as written: bare, 'literal' or "basic" with escapes.
func keyName(k string) string {
	if strings.HasPrefix(k, `"`) {
		if u, err := strconv.Unquote(k); err == nil {
			return u
		}
	}
	return strings.Trim(k, `"'`)
}

// Instances is a count of instances, or "auto".
type Instances struct {
	N    int
	Auto bool
}

// UnmarshalTOML implements toml.Unmarshaler. As in pm2, 0 and "max" mean
// one per CPU, like "auto".
func (in *Instances) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v == 0 {
			*in = Instances{Auto: true}
			return nil
		}
		if v < 0 || v > MaxInstances {
			return fmt.Errorf("instances: %d is out of range: want 1 to %d, or 0 or \"auto\" for one per CPU", v, MaxInstances)
		}
		*in = Instances{N: int(v)}
		return nil
	case string:
		if v == "auto" || v == "max" {
			*in = Instances{Auto: true}
			return nil
		}
	}
	return fmt.Errorf("instances: %#v: want a number from 1 to %d, or \"auto\" (also 0 or \"max\", as in pm2) for one per CPU", v, MaxInstances)
}

// String is the value as written in the config.
func (in Instances) String() string {
	if in.Auto {
		return "auto"
	}
	return strconv.Itoa(in.N)
}

// TOML is the value as app.toml writes it.
func (in Instances) TOML() string {
	if in.Auto {
		return `"auto"`
	}
	return strconv.Itoa(in.N)
}

// ParseInstances reads a count as a command line gives it: a number from
// 1 to MaxInstances, or "auto" (also "max" and 0, as in pm2).
func ParseInstances(s string) (Instances, error) {
	var in Instances
	var v any = s
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		v = n
	}
	if err := in.UnmarshalTOML(v); err != nil {
		return Instances{}, err
	}
	return in, nil
}

// Address is a ListenStream= value: "127.0.0.1:8080", "[::1]:8080",
// "8080" (every address), or an absolute path of a Unix socket.
type Address string

// UnmarshalTOML implements toml.Unmarshaler.
func (a *Address) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("listen: %#v: want a string such as \"127.0.0.1:8080\"", v)
	}
	if err := checkAddress(s); err != nil {
		return fmt.Errorf("listen: %q: %w", s, err)
	}
	*a = Address(s)
	return nil
}

func checkAddress(s string) error {
	if strings.HasPrefix(s, "/") {
		if filepath.Clean(s) != s {
			return errors.New("a socket path must be clean and absolute")
		}
		return nil
	}
	port := s
	if strings.Contains(s, ":") {
		host, p, err := net.SplitHostPort(s)
		if err != nil {
			return errors.New("want host:port, [v6]:port, a port or a socket path")
		}
		if net.ParseIP(host) == nil {
			return fmt.Errorf("host %q is not an IP address (systemd binds before name resolution)", host)
		}
		port = p
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want 1 to 65535", port)
	}
	return nil
}

// Path is an absolute file system path.
type Path string

// UnmarshalTOML implements toml.Unmarshaler.
func (p *Path) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok || !filepath.IsAbs(s) {
		return fmt.Errorf("%#v: want an absolute path", v)
	}
	*p = Path(s)
	return nil
}

// Duration is a length of time: a Go duration string ("30s", "1m30s"), or a number
// of milliseconds as pm2 writes it.
type Duration time.Duration

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	var out time.Duration
	switch v := v.(type) {
	case int64:
		out = time.Duration(v) * time.Millisecond
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q: want a duration such as \"30s\" or a number of milliseconds", v)
		}
		out = p
	default:
		return fmt.Errorf("%#v: want a duration such as \"30s\" or a number of milliseconds", v)
	}
	if out < 0 || out > 24*time.Hour {
		return fmt.Errorf("%v: want from 0s to 24h", out)
	}
	*d = Duration(out)
	return nil
}

// Std is the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Memory is a size as MemoryMax= takes it: bytes, or with a K, M, G or T
// suffix (pm2's max_memory_restart uses the same form).
type Memory string

var memorySize = regexp.MustCompile(`^[1-9][0-9]*[KMGT]?$`)

// UnmarshalTOML implements toml.Unmarshaler.
func (m *Memory) UnmarshalTOML(v any) error {
	var s string
	switch v := v.(type) {
	case int64:
		s = strconv.FormatInt(v, 10)
	case string:
		s = strings.ToUpper(v)
	}
	if !memorySize.MatchString(s) {
		return fmt.Errorf("max_memory_restart: %#v: want bytes or a size such as \"512M\" or \"2G\"", v)
	}
	*m = Memory(s)
	return nil
}

// Surge modes.
const (
	SurgeAuto Surge = "auto"
	SurgeOn   Surge = "on"
	SurgeOff  Surge = "off"
)

// Surge is whether rollouts start a spare instance first: "auto", "on"
// (true) or "off" (false).
type Surge string

// UnmarshalTOML implements toml.Unmarshaler.
func (s *Surge) UnmarshalTOML(v any) error {
	switch v {
	case true, "on":
		*s = SurgeOn
	case false, "off":
		*s = SurgeOff
	case "auto":
		*s = SurgeAuto
	default:
		return fmt.Errorf("surge: %#v: want true, false or \"auto\"", v)
	}
	return nil
}

// Socket modes.
const (
	SocketShared    SocketMode = "shared"
	SocketReusePort SocketMode = "reuseport"
)

// SocketMode is how the instances listen: "shared" or "reuseport".
type SocketMode string

// UnmarshalTOML implements toml.Unmarshaler.
func (m *SocketMode) UnmarshalTOML(v any) error {
	switch v {
	case string(SocketShared):
		*m = SocketShared
	case string(SocketReusePort):
		*m = SocketReusePort
	default:
		return fmt.Errorf("socket: %#v: want %q (one socket all instances accept from) or %q (one SO_REUSEPORT socket per instance)", v, SocketShared, SocketReusePort)
	}
	return nil
}

// UserName is the name of an existing account other than root.
type UserName string

var userName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// UnmarshalTOML implements toml.Unmarshaler.
func (u *UserName) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	switch {
	case !ok || !userName.MatchString(s):
		return fmt.Errorf("user: %#v: want the name of an existing account, such as \"deploy\" (lower case, up to 32 characters)", v)
	case s == "root":
		return errors.New("user: \"root\": the instances face the network and must not run as root; leave user out for a dynamic user of their own, or name an unprivileged account")
	}
	*u = UserName(s)
	return nil
}

// memory_deny_write_execute values.
const (
	WriteExecuteAuto  WriteExecute = "auto"
	WriteExecuteDeny  WriteExecute = "deny"  // true
	WriteExecuteAllow WriteExecute = "allow" // false
)

// WriteExecute is memory_deny_write_execute: "auto", true or false.
type WriteExecute string

// UnmarshalTOML implements toml.Unmarshaler.
func (m *WriteExecute) UnmarshalTOML(v any) error {
	switch v {
	case true:
		*m = WriteExecuteDeny
	case false:
		*m = WriteExecuteAllow
	case "auto":
		*m = WriteExecuteAuto
	default:
		return fmt.Errorf("memory_deny_write_execute: %#v: want true (no memory both writable and executable), false (for a JIT compiler) or \"auto\" (false for %s, true otherwise)", v, strings.Join(JITRuntimes, ", "))
	}
	return nil
}

// ClusterSocket is what app.socket listens on with socket = "reuseport",
// where the configured addresses belong to the instances' own sockets: a
// Unix socket every instance serves, for local clients.
const ClusterSocket = "/run/app/cluster.sock"

// SocketListen is what app.socket listens on.
func (c Config) SocketListen() []string {
	if c.Socket == SocketReusePort {
		return []string{c.cluster.ClusterSocket()}
	}
	return c.ListenStrings()
}

// InstanceListen is what each instance's own socket (app@N.socket)
// listens on: the configured addresses with socket = "reuseport", none
// otherwise.
func (c Config) InstanceListen() []string {
	if c.Socket == SocketReusePort {
		return c.ListenStrings()
	}
	return nil
}

// ListenStrings is Listen as strings.
func (c Config) ListenStrings() []string {
	out := make([]string, len(c.Listen))
	for i, a := range c.Listen {
		out[i] = string(a)
	}
	return out
}

// ProbePath is the path of an HTTP health probe: absolute, no spaces.
type ProbePath string

var probePath = regexp.MustCompile(`^/[!-~]*$`)

// UnmarshalTOML implements toml.Unmarshaler.
func (p *ProbePath) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok || (s != "" && !probePath.MatchString(s)) || len(s) > 1024 {
		return fmt.Errorf("probe_path: %#v: want a path such as \"/healthz\" (printable ASCII, no spaces), or \"\" for no probe", v)
	}
	*p = ProbePath(s)
	return nil
}

// Bytes is the size in bytes.
func (m Memory) Bytes() uint64 {
	s := string(m)
	if s == "" {
		return 0
	}
	mult := uint64(1)
	if i := strings.IndexAny(s, "KMGT"); i >= 0 {
		mult = map[byte]uint64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}[s[i]]
		s = s[:i]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxUint64/mult {
		return math.MaxUint64
	}
	return n * mult
}
