package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"example.com/app/reloader"
	"example.com/app/reloader/fleet"
	"example.com/app/reloader/view"
)

// hostList is a repeatable -host flag; each value may also be a
// comma-separated list.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Type() string { return "host" }

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

func addHostFlags(fs *pflag.FlagSet, rolling bool) *hostFlags {
	f := &hostFlags{}
	fs.Var(&f.hosts, "host", "another machine, over ssh (as systemctl -H): repeat it, or list them with commas; they are taken in order")
	f.ssh = fs.String("ssh", fleet.DefaultSSH, "the ssh command and its options for --host, such as \"ssh -F fleet.conf\"")
	if rolling {
		f.parallel = fs.Int("parallel", 1, "with --host: how many machines roll at once; a failure stops before the next batch")
	}
	return f
}

// reloadHosts is `app-reloader reload -host …`: each machine rolls its own
// instances, one machine (or batch) after another; the first failure
// leaves the machines after it untouched.
func (o *cli) reloadHosts(ctx context.Context, f *hostFlags, asJSON bool) int {
	return o.rollHosts(ctx, "reload", f, asJSON, "rolling", func(ctx context.Context, r fleet.Remote) (*reloader.Report, error) {
		d, err := r.Connect(ctx)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return r.Reload(ctx, d)
	})
}

// rollHosts does one on each host of f in turn (see [fleet.RollHosts]),
// printing progress and a table of the hosts.
func (o *cli) rollHosts(ctx context.Context, cmd string, f *hostFlags, asJSON bool, doing string, one func(context.Context, fleet.Remote) (*reloader.Report, error)) int {
	if *f.parallel < 1 {
		fmt.Fprintf(o.stderr, "app-reloader %s: --parallel %d: want 1 or more\n", cmd, *f.parallel)
		return 2
	}
	progress := o.progress(asJSON)
	fmt.Fprintf(progress, "%s %d hosts, %d at a time: %s\n", doing, len(f.hosts), *f.parallel, strings.Join(f.hosts, ", "))
	roll := func(ctx context.Context, host string) (*reloader.Report, error) {
		fmt.Fprintf(progress, "%s: %s…\n", host, cmd)
		return one(ctx, fleet.Remote{Host: host, SSH: *f.ssh})
	}
	results, err := fleet.RollHosts(ctx, f.hosts, *f.parallel, roll, func(res fleet.HostResult) {
		switch rep := res.Report; {
		case res.Error == "" && rep != nil:
			fmt.Fprintf(progress, "%s: done, %d instances in %s\n", res.Host, rep.Instances, view.Round(rep.Took))
		case rep != nil && rep.Failure != nil:
			fmt.Fprintf(progress, "%s: FAILED at %s: %s\n", res.Host, rep.Failure.Unit, view.Printable(rep.Failure.Reason))
			view.WriteReport(prefixed(progress, "  "+res.Host+" | "), *rep)
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
			result, inst, took := "ok", "-", view.Round(r.Took).String()
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
