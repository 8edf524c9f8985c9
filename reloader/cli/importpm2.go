package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/pflag"

	"example.com/app/units"
)

func defineImportPM2(fs *pflag.FlagSet) runFunc {
	app := fs.String("app", "", "the app to import, by its pm2 name, when the file has several")
	env := fs.String("env", "", "also merge env_`NAME` over env, as pm2 start --env NAME does")
	outPath := fs.StringP("output", "o", "", "write app.toml to this `file` (refused if it exists) instead of stdout; a directory (such as /etc/app/apps.d): every app, each to NAME.toml, as apps of their own")
	asJSON := fs.Bool("json", false, "print the result (toml, unmapped, notes) as JSON on stdout")
	return func(ctx context.Context, o *cli, args []string) int {
		data, err := readPM2File(ctx, args[0])
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\n", err)
			return 1
		}
		opts := units.PM2Options{App: *app, Env: *env, LookPath: exec.LookPath, IsFile: isFile}
		if fi, err := os.Stat(*outPath); err == nil && fi.IsDir() && *app == "" {
			return o.importAll(args[0], data, opts, *outPath, *asJSON)
		}
		im, err := units.ImportPM2(args[0], data, opts)
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\n", err)
			return 1
		}
		switch {
		case *asJSON:
			return o.json(im)
		case *outPath != "":
			if err := writeNew(*outPath, im.TOML, 0o644); err != nil {
				fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\n", err)
				return 1
			}
			fmt.Fprintf(o.stderr, "wrote %s (pm2 app %q)\n", *outPath, im.App)
		default:
			fmt.Fprint(o.stdout, im.TOML)
		}
		for _, n := range im.Notes {
			fmt.Fprintf(o.stderr, "note: %s: %s\n", n.Key, n.Why)
		}
		for _, u := range im.Unmapped {
			fmt.Fprintf(o.stderr, "not imported: %s: %s\n", u.Key, u.Why)
		}
		return 0
	}
}

// readPM2File reads an ecosystem file in any of pm2's forms into JSON: a
// JavaScript one is evaluated by node.
func readPM2File(ctx context.Context, name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, units.MaxPM2File+1))
	if err != nil {
		return nil, err
	}
	out, err := units.PM2Data(name, data)
	if errors.Is(err, units.ErrPM2JavaScript) {
		return units.EvalPM2JS(ctx, name)
	}
	return out, err
}

// writeNew writes a file that must not exist yet: an existing one is the
// operator's, and is refused.
func writeNew(path, content string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	return errors.Join(err, f.Close())
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// importAll writes every app of the ecosystem file into dir, each as
// NAME.toml: the apps of a pm2 host become apps of their own here.
func (o *cli) importAll(name string, data []byte, opts units.PM2Options, dir string, asJSON bool) int {
	ims, err := units.ImportPM2All(name, data, opts)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\nnothing was written\n", err)
		return 1
	}
	// None written unless all can be: an existing file is the operator's.
	for _, im := range ims {
		if _, err := os.Lstat(filepath.Join(dir, im.Name+".toml")); err == nil {
			fmt.Fprintf(o.stderr, "app-reloader import-pm2: %s: file exists\nnothing was written\n", filepath.Join(dir, im.Name+".toml"))
			return 1
		}
	}
	for _, im := range ims {
		path := filepath.Join(dir, im.Name+".toml")
		if err := writeNew(path, im.TOML, 0o640); err != nil {
			fmt.Fprintf(o.stderr, "app-reloader import-pm2: %v\n", err)
			return 1
		}
		if !asJSON {
			fmt.Fprintf(o.stderr, "wrote %s (pm2 app %q)\n", path, im.App)
			for _, n := range im.Notes {
				fmt.Fprintf(o.stderr, "  note: %s: %s\n", n.Key, n.Why)
			}
			for _, u := range im.Unmapped {
				fmt.Fprintf(o.stderr, "  not imported: %s: %s\n", u.Key, u.Why)
			}
		}
	}
	if asJSON {
		return o.json(ims)
	}
	fmt.Fprintf(o.stderr, "check them with `app-reloader check`; start each with `app-reloader reload NAME`\n")
	return 0
}
