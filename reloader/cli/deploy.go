package cli

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/fleet"
)

// runDeploy is `app-reloader deploy -host … FILE.deb`.
func defineDeploy(fs *pflag.FlagSet) runFunc {
	asJSON := fs.Bool("json", false, "print every host's result as JSON on stdout (progress goes to stderr)")
	hf := addHostFlags(fs, true)
	return func(ctx context.Context, o *cli, args []string) int {
		deb := args[0]
		if len(hf.hosts) == 0 {
			fmt.Fprintln(o.stderr, "app-reloader deploy: no --host: to install on this machine, run: apt install ./"+filepath.Base(deb))
			return 2
		}
		version, err := debVersion(ctx, deb)
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader deploy: %v\nnothing was changed\n", err)
			return 1
		}
		return o.rollHosts(ctx, "deploy", hf, *asJSON, fmt.Sprintf("deploying app %s to", version), func(ctx context.Context, r fleet.Remote) (*reloader.Report, error) {
			return r.Deploy(ctx, deb, version)
		})
	}
}

// debVersion checks that deb is an app package and returns its version.
func debVersion(ctx context.Context, deb string) (string, error) {
	out, err := exec.CommandContext(ctx, "dpkg-deb", "--show", "--showformat", "${Package} ${Version}", deb).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: not a Debian package: %s", deb, strings.TrimSpace(string(out)))
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "app" {
		return "", fmt.Errorf("%s: package %q, not app", deb, strings.Join(f, " "))
	}
	return f[1], nil
}
