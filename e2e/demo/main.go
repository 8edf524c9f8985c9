//go:build linux

// Command demo is `make demo`: on a throwaway systemd it installs the
// cluster from a .deb, puts bounded load on it, installs a newer .deb under
// that load, and shows what happened. It changes nothing on the host.
//
//	go run ./e2e/demo dist/app_1.0.0_amd64.deb dist/app_2.0.0_amd64.deb
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"example.com/app/e2e"
)

const addr = "127.0.0.1:8080" // the package's default

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: demo OLD.deb NEW.deb")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1], os.Args[2])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) { fmt.Printf("\n== "+format+"\n", args...) }

func run(ctx context.Context, oldDeb, newDeb string) error {
	start := time.Now()
	say("booting a throwaway systemd (systemd-nspawn, overlay of / on a tmpfs)")
	m, err := e2e.Boot(ctx)
	if err != nil {
		return err
	}
	defer func() {
		m.Close()
		fmt.Printf("\n(container stopped and removed; total %s)\n", time.Since(start).Round(time.Millisecond))
	}()
	fmt.Printf("   up in %s\n", time.Since(start).Round(time.Millisecond))

	for _, deb := range []string{oldDeb, newDeb} {
		b, err := os.ReadFile(deb)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(m.Root, "root", filepath.Base(deb)), b, 0o644); err != nil {
			return err
		}
	}

	say("apt-get install ./%s", filepath.Base(oldDeb))
	if err := m.Stream(ctx, indent("   | "), "sh", "-c", "cd /root && apt-get install -y ./"+filepath.Base(oldDeb)+" 2>&1 | grep -E '^(Setting up|Created symlink)'"); err != nil {
		return err
	}
	n, err := m.ConfiguredInstances(ctx)
	if err != nil {
		return err
	}
	units := make([]string, n)
	for i := range units {
		units[i] = fmt.Sprintf("app@%d.service", i)
	}
	if err := m.WaitActive(ctx, 60*time.Second, append([]string{"app.socket"}, units...)...); err != nil {
		return err
	}
	if err := m.Stream(ctx, indent("   "), "app-reloader", "status"); err != nil {
		return err
	}

	say("load: 8 keep-alive + 4 new-connection clients on %s (bounded: 3 min, 5M requests)", addr)
	load, err := e2e.StartLoad(e2e.LoadOptions{Addr: addr, KeepAlive: 8, NewConn: 4, MaxRequests: 5_000_000, MaxDuration: 3 * time.Minute})
	if err != nil {
		return err
	}
	before, err := m.MainPIDs(ctx, n)
	if err != nil {
		load.Stop()
		return err
	}
	time.Sleep(3 * time.Second)

	say("dpkg -i %s, under that load", filepath.Base(newDeb))
	rollStart := time.Now()
	err = m.Stream(ctx, indent("   | "), "dpkg", "-i", "/root/"+filepath.Base(newDeb))
	rollEnd := time.Now()
	time.Sleep(2 * time.Second)
	res := load.Stop()
	if err != nil {
		return err
	}
	after, err := m.MainPIDs(ctx, n)
	if err != nil {
		return err
	}

	say("what the clients saw")
	steady, during, later := res.Window(res.Started, rollStart), res.Window(rollStart, rollEnd), res.Window(rollEnd, res.Stopped)
	fmt.Printf("   requests: %d served, %d failed (%s of load)\n", res.Served(), res.Failed(), res.Stopped.Sub(res.Started).Round(time.Millisecond))
	for _, e := range res.Errors(5) {
		fmt.Println("   error:", e)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "   \tserved\tfailed\treq/s\tp50\tp99\tp99.9\tmax\t")
	for _, w := range []struct {
		name string
		r    e2e.Result
	}{{"before the upgrade", steady}, {"during the upgrade", during}, {"after", later}} {
		fmt.Fprintf(tw, "   %s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t\n", w.name, w.r.Served(), w.r.Failed(), w.r.Rate(),
			ms(w.r.Quantile(0.5)), ms(w.r.Quantile(0.99)), ms(w.r.Quantile(0.999)), ms(w.r.Quantile(1)))
	}
	tw.Flush()

	say("every instance, before and after")
	oldV, newV := versionsBy(steady), versionsBy(later)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   INSTANCE\tOLD PID\tNEW PID\tOLD VERSION\tNEW VERSION")
	for i, u := range units {
		inst := fmt.Sprint(i)
		fmt.Fprintf(tw, "   %s\t%d\t%d\t%s\t%s\n", u, before[u], after[u], oldV[inst], newV[inst])
	}
	tw.Flush()
	if res.Failed() > 0 {
		return fmt.Errorf("%d requests failed", res.Failed())
	}
	return nil
}

// versionsBy is the versions each instance answered with, joined.
func versionsBy(r e2e.Result) map[string]string {
	seen := map[string]map[string]bool{}
	for _, s := range r.Samples {
		if s.Err == "" {
			if seen[s.Instance] == nil {
				seen[s.Instance] = map[string]bool{}
			}
			seen[s.Instance][s.Version] = true
		}
	}
	out := map[string]string{}
	for inst, vs := range seen {
		var l []string
		for v := range vs {
			l = append(l, v)
		}
		sort.Strings(l)
		out[inst] = strings.Join(l, ",")
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// indent prefixes every line written through it.
func indent(prefix string) io.Writer {
	return &prefixWriter{prefix: prefix, w: os.Stdout, atStart: true}
}

type prefixWriter struct {
	prefix  string
	w       io.Writer
	atStart bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if p.atStart {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return 0, err
			}
		}
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
		p.atStart = line[len(line)-1] == '\n'
	}
	return len(b), nil
}
