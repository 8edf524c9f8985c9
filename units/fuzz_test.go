package units_test

import (
	"errors"
	"strings"
	"testing"

	"example.com/app/units"
)

// FuzzParse feeds the parser arbitrary files: it must never panic, a file
// it accepts must generate units, and every rejection must be a clear
// error: it names the file and wraps ErrInvalid.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"instances = 4\nlisten = [\"127.0.0.1:8080\", \"[::1]:8080\"]\n",
		"instances = \"auto\"\nscript = \"/usr/bin/node\"\nargs = [\"dist/main.js\"]\n[env]\nNODE_ENV = \"production\"\n",
		"listen_timeout = 50000\nkill_timeout = \"5s\"\nmax_memory_restart = \"300M\"\nmin_uptime = \"2s\"\n",
		"surge = true\nprobe_path = \"/healthz\"\nprobe_timeout = 3000\n",
		"surge = \"auto\"\nprobe_path = \"\"\n",
		"instances = 0\n",
		"listen = [\"localhost:80\"]\n",
		"[env]\n\"BAD-NAME\" = \"x\"\n",
		"instanses = 3\n",
		"listen = [\n",
		"cwd = \"/srv/app\"\nlisten = [\"/run/app.sock\", \"9000\"]\n",
		"socket = \"reuseport\"\nlisten = [\"127.0.0.1:8080\", \"[::1]:8080\"]\n",
		"socket = \"reuseport\"\nsurge = true\nlisten = [\"/run/app.sock\"]\n",
		"socket = \"shared\"\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := units.Parse("app.toml", []byte(in))
		if err != nil {
			if !errors.Is(err, units.ErrInvalid) {
				t.Fatalf("rejection does not wrap ErrInvalid: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "app.toml") {
				t.Fatalf("rejection does not name the file: %v", err)
			}
			return
		}
		if n := cfg.Count(); n < 1 || n > units.MaxInstances && !cfg.Instances.Auto {
			t.Fatalf("accepted an instance count of %d", n)
		}
		if err := units.Generate(cfg, "app.toml", t.TempDir()); err != nil {
			t.Fatalf("accepted config does not generate: %v", err)
		}
	})
}
