package sdbus

import (
	"context"
	"fmt"
	"math"
	"time"

	"example.com/app/reloader"
)

// Describe reads an instance's unit, command, environment, limits and
// systemd's recent messages about it; sockets are the sockets it serves.
func (d *DBus) Describe(ctx context.Context, unit string, sockets []string) (reloader.Description, error) {
	// Everything there is about it: GetAll, on one connection.
	conn := d.c()
	gctx, cancel := call(ctx)
	defer cancel()
	up, err := conn.GetUnitPropertiesContext(gctx, unit)
	if err != nil {
		return reloader.Description{}, fmt.Errorf("properties of %s: %w", unit, err)
	}
	sp, err := conn.GetUnitTypePropertiesContext(gctx, unit, "Service")
	if err != nil {
		return reloader.Description{}, fmt.Errorf("service properties of %s: %w", unit, err)
	}
	out := reloader.Description{Unit: d.unitOf(unit, up, sp)}
	if s := str(up["LoadState"]); s != "loaded" {
		return reloader.Description{}, fmt.Errorf("describe %s: %w (load state %q)", unit, reloader.ErrNoSuchInstance, s)
	}
	out.Description = str(up["Description"])
	out.UnitFile = str(up["FragmentPath"])
	out.DropIns, _ = up["DropInPaths"].([]string)
	// ExecStart is a(sasbttttuii): path, argv, ignore-failure, timestamps, pid, code, status.
	if ex, ok := sp["ExecStart"].([][]any); ok && len(ex) > 0 && len(ex[0]) > 1 {
		out.Command, _ = ex[0][1].([]string)
	}
	out.WorkingDirectory = str(sp["WorkingDirectory"])
	out.User = str(sp["User"])
	out.DynamicUser, _ = sp["DynamicUser"].(bool)
	out.Environment, _ = sp["Environment"].([]string)
	// EnvironmentFiles is a(sb): path, whether a missing file is fine.
	if files, ok := sp["EnvironmentFiles"].([][]any); ok {
		for _, f := range files {
			if len(f) == 2 {
				out.EnvironmentFiles = append(out.EnvironmentFiles, str(f[0]))
			}
		}
	}
	lim := &out.Limits
	lim.MemoryMax = limit(sp["MemoryMax"])
	lim.TasksMax = limit(sp["TasksMax"])
	lim.NoFile = limit(sp["LimitNOFILE"])
	lim.StartTimeout = usec(sp["TimeoutStartUSec"])
	lim.StopTimeout = usec(sp["TimeoutStopUSec"])
	lim.Restart = str(sp["Restart"])
	lim.RestartDelay = usec(sp["RestartUSec"])
	for _, s := range sockets {
		su, err := d.Unit(ctx, s)
		if err != nil {
			return reloader.Description{}, err
		}
		out.Sockets = append(out.Sockets, su)
	}
	if out.Recent, err = d.journal.Lifecycle(ctx, unit, 10); err != nil {
		// The journal is for root, adm and systemd-journal: the rest of
		// the description is anyone's.
		out.RecentError = err.Error()
	}
	return out, nil
}

// limit reads a uint64 limit; systemd's "infinity" is the largest uint64.
func limit(v any) uint64 {
	n, _ := v.(uint64)
	if n == math.MaxUint64 {
		return 0
	}
	return n
}

func usec(v any) time.Duration {
	n, _ := v.(uint64)
	if n == math.MaxUint64 {
		return 0
	}
	return time.Duration(n) * time.Microsecond
}
