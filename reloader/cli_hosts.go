package reloader

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// hostList is a repeatable -host flag; each value may also be a
// comma-separated list.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			return errors.New("an empty host name")
		} else if strings.HasPrefix(s, "-") {
			return fmt.Errorf("host %q: a host name cannot start with -", s)
		}
		*h = append(*h, s)
	}
	return nil
}

// hostFlags are the flags that point reload and status at other machines.
type hostFlags struct {
	hosts    hostList
	ssh      *string
	parallel *int
}

func addHostFlags(fs *flag.FlagSet, rolling bool) *hostFlags {
	f := &hostFlags{}
	fs.Var(&f.hosts, "host", "another machine, over ssh (as systemctl -H): repeat it, or list them with commas; they are taken in order")
	f.ssh = fs.String("ssh", DefaultSSH, "the ssh command and its options for -host, such as \"ssh -F fleet.conf\"")
	if rolling {
		f.parallel = fs.Int("parallel", 1, "with -host: how many machines roll at once; a failure stops before the next batch")
	}
	return f
}

// reloadHosts is `app-reloader reload -host …`: each machine rolls its own
// instances, one machine (or batch) after another; the first failure
// leaves the machines after it untouched.
func (o *cli) reloadHosts(ctx context.Context, f *hostFlags, asJSON bool) int {
	return o.rollHosts(ctx, "reload", f, asJSON, "rolling", func(ctx context.Context, r Remote) (*Report, error) {
		d, err := r.Connect(ctx)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return r.Reload(ctx, d)
	})
}

// rollHosts does one on each host of f in turn (see [RollHosts]),
// printing progress and a table of the hosts.
func (o *cli) rollHosts(ctx context.Context, cmd string, f *hostFlags, asJSON bool, doing string, one func(context.Context, Remote) (*Report, error)) int {
	if *f.parallel < 1 {
		fmt.Fprintf(o.stderr, "app-reloader %s: -parallel %d: want 1 or more\n", cmd, *f.parallel)
		return 2
	}
	progress := o.progress(asJSON)
	fmt.Fprintf(progress, "%s %d hosts, %d at a time: %s\n", doing, len(f.hosts), *f.parallel, strings.Join(f.hosts, ", "))
	roll := func(ctx context.Context, host string) (*Report, error) {
		fmt.Fprintf(progress, "%s: %s…\n", host, cmd)
		return one(ctx, Remote{Host: host, SSH: *f.ssh})
	}
	results, err := RollHosts(ctx, f.hosts, *f.parallel, roll, func(res HostResult) {
		switch rep := res.Report; {
		case res.Error == "" && rep != nil:
			fmt.Fprintf(progress, "%s: done, %d instances in %s\n", res.Host, rep.Instances, round(rep.Took))
		case rep != nil && rep.Failure != nil:
			fmt.Fprintf(progress, "%s: FAILED at %s: %s\n", res.Host, rep.Failure.Unit, printable(rep.Failure.Reason))
			WriteReport(prefixed(progress, "  "+res.Host+" | "), *rep)
		default:
			fmt.Fprintf(progress, "%s: FAILED: %s\n", res.Host, res.Error)
		}
	})
	if asJSON {
		o.json(results)
	} else {
		fmt.Fprintln(o.stdout)
		tw := tabwriter.NewWriter(o.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "HOST\tRESULT\tINSTANCES\tTOOK")
		for _, r := range results {
			result, inst, took := "ok", "-", round(r.Took).String()
			switch {
			case r.Skipped:
				result, took = "not touched", "-"
			case r.Error != "" && r.Report != nil && r.Report.Failure != nil:
				result = "FAILED at " + r.Report.Failure.Unit
			case r.Error != "":
				result = "FAILED"
			}
			if r.Report != nil {
				inst = fmt.Sprint(r.Report.Instances)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Host, result, inst, took)
		}
		tw.Flush()
	}
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// statusHosts is `app-reloader status -host …`.
func (o *cli) statusHosts(ctx context.Context, f *hostFlags, asJSON bool) int {
	all := map[string]Status{}
	code := 0
	for i, host := range f.hosts {
		r := Remote{Host: host, SSH: *f.ssh}
		st, err := func() (Status, error) {
			d, err := r.Connect(ctx)
			if err != nil {
				return Status{}, err
			}
			defer d.Close()
			return r.Status(ctx, d)
		}()
		if err != nil {
			fmt.Fprintf(o.stderr, "app-reloader status: %s: %v\n", host, err)
			code = 1
			continue
		}
		all[host] = st
		if !asJSON {
			if i > 0 {
				fmt.Fprintln(o.stdout)
			}
			fmt.Fprintf(o.stdout, "== %s\n", host)
			WriteStatus(o.stdout, st, time.Now(), colorful(o.stdout))
		}
	}
	if asJSON {
		if c := o.json(all); c != 0 {
			return c
		}
	}
	return code
}

// prefixWriter writes each line to w with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func prefixed(w io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{w: w, prefix: prefix}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// runDeploy is `app-reloader deploy -host … FILE.deb`.
func runDeploy(ctx context.Context, o *cli, args []string) int {
	fs := o.flags("deploy")
	asJSON := fs.Bool("json", false, "print every host's result as JSON on stdout (progress goes to stderr)")
	hf := addHostFlags(fs, true)
	if code := o.parse(fs, args, 1, 1); code >= 0 {
		return code
	}
	deb := fs.Arg(0)
	if len(hf.hosts) == 0 {
		fmt.Fprintln(o.stderr, "app-reloader deploy: no -host: to install on this machine, run: apt install ./"+filepath.Base(deb))
		return 2
	}
	version, err := debVersion(ctx, deb)
	if err != nil {
		fmt.Fprintf(o.stderr, "app-reloader deploy: %v\nnothing was changed\n", err)
		return 1
	}
	return o.rollHosts(ctx, "deploy", hf, *asJSON, fmt.Sprintf("deploying app %s to", version), func(ctx context.Context, r Remote) (*Report, error) {
		return r.Deploy(ctx, deb, version)
	})
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
