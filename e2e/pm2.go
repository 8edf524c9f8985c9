//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PM2Version is the pm2 the benchmarks compare against, from the npm
// registry.
const PM2Version = "5.4.3"

// InstallPM2 installs pm2 with npm under dir once and returns the path of
// its command. Install it before booting a machine: the container sees the
// host's files as they were when it booted.
func InstallPM2(ctx context.Context, dir string) (string, error) {
	prefix := filepath.Join(dir, "pm2-"+PM2Version)
	bin := filepath.Join(prefix, "node_modules", "pm2", "bin", "pm2")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel", "error", "pm2@"+PM2Version)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install pm2@%s: %w\n%s", PM2Version, err, out)
	}
	return bin, nil
}

// PM2 drives a pm2 daemon inside a machine.
type PM2 struct {
	M   *Machine
	Bin string // pm2's command, as InstallPM2 returned it
}

// Run runs a pm2 command inside the machine.
func (p *PM2) Run(ctx context.Context, args ...string) (string, error) {
	return p.M.Run(ctx, append([]string{"env", "HOME=/root", "PM2_HOME=/root/.pm2", "node", p.Bin}, args...)...)
}

// PM2App is an app in pm2 cluster mode, configured as the recipe pm2 users
// follow (wait_ready, listen_timeout, kill_timeout, a SIGINT handler).
type PM2App struct {
	Name          string
	Script        string
	Instances     int
	Port          int
	Env           map[string]string
	ListenTimeout int // ms
	KillTimeout   int // ms
}

// Start writes the app's ecosystem file into the machine and starts it.
func (p *PM2) Start(ctx context.Context, app PM2App) error {
	var env []string
	env = append(env, fmt.Sprintf("PORT: %q", fmt.Sprint(app.Port)))
	for k, v := range app.Env {
		env = append(env, fmt.Sprintf("%s: %q", k, v))
	}
	eco := fmt.Sprintf(`module.exports = { apps: [{
  name: %q,
  script: %q,
  instances: %d,
  exec_mode: "cluster",
  wait_ready: true,
  listen_timeout: %d,
  kill_timeout: %d,
  env: { %s },
}] };
`, app.Name, app.Script, app.Instances, app.ListenTimeout, app.KillTimeout, strings.Join(env, ", "))
	path := "/root/pm2-" + app.Name + ".config.js"
	if err := os.WriteFile(filepath.Join(p.M.Root, path), []byte(eco), 0o644); err != nil {
		return err
	}
	if out, err := p.Run(ctx, "start", path); err != nil {
		return fmt.Errorf("pm2 start: %w\n%s", err, out)
	}
	return nil
}
