package reloader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"example.com/app/units"
)

// ErrListenChanged is returned by a rollout refused because the
// configuration moves the socket to other addresses: that cannot be done
// one instance at a time.
var ErrListenChanged = errors.New("the listen addresses changed")

// canonical writes an address the same way whether it comes from the
// configuration ("8080", "127.0.0.1:8080", "[::1]:8080", "/run/app.sock")
// or from systemd ("[::]:8080", …), so that the two compare.
func canonical(addr string) string {
	if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "@") {
		return addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "*:" + addr // a port alone
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsUnspecified() {
			return "*:" + port
		}
		return net.JoinHostPort(ip.String(), port)
	}
	return addr
}

func sameAddresses(a, b []string) bool {
	ca, cb := make([]string, len(a)), make([]string, len(b))
	for i, x := range a {
		ca[i] = canonical(x)
	}
	for i, x := range b {
		cb[i] = canonical(x)
	}
	slices.Sort(ca)
	slices.Sort(cb)
	return slices.Equal(slices.Compact(ca), slices.Compact(cb))
}

// checkListen refuses a rollout whose configuration moves a running socket
// to other addresses, or switches between one shared socket and one socket
// per instance: neither can be applied one instance at a time.
func (r *Reloader) checkListen(ctx context.Context) error {
	if r.o.Listen == nil {
		return nil
	}
	var moved []string
	sock, err := r.o.Systemd.Unit(ctx, r.o.Cluster.Socket())
	if err != nil {
		return err
	}
	if sock.ActiveState == "active" && !sameAddresses(sock.Listen, r.o.Listen) {
		moved = append(moved, fmt.Sprintf("%s listens on %s and the configuration says %s",
			sock.Name, strings.Join(sock.Listen, ", "), strings.Join(r.o.Listen, ", ")))
	}
	own, err := r.instanceSockets(ctx)
	if err != nil {
		return err
	}
	for _, u := range own {
		name := u.Name
		switch {
		case u.ActiveState != "active":
		case r.o.InstanceListen == nil:
			moved = append(moved, fmt.Sprintf("%s listens on %s (socket = \"reuseport\") and the configuration says socket = \"shared\"",
				name, strings.Join(u.Listen, ", ")))
		case !sameAddresses(u.Listen, r.o.InstanceListen):
			moved = append(moved, fmt.Sprintf("%s listens on %s and the configuration says %s",
				name, strings.Join(u.Listen, ", "), strings.Join(r.o.InstanceListen, ", ")))
		}
	}
	if len(moved) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s; a socket takes new addresses only when it restarts, which stops the instances using it: "+
		"set listen and socket back, or apply them with `%s` (the cluster is down meanwhile). Nothing was changed",
		ErrListenChanged, strings.Join(moved, "; "), ApplyListenChange(r.o.Cluster))
}

// ApplyListenChange is the command that applies a change of the listen
// addresses or of the socket mode to a cluster: it restarts the cluster
// with all its sockets.
func ApplyListenChange(c units.Cluster) string {
	return fmt.Sprintf("systemctl daemon-reload && systemctl stop %s %s '%s' && systemctl start %s", c.Target(), c.Socket(), c.InstanceSockets(), c.Target())
}

// instanceSockets reads the loaded instance sockets (app@N.socket, with
// socket = "reuseport"), in name order.
func (r *Reloader) instanceSockets(ctx context.Context) ([]Unit, error) {
	names, err := r.o.Systemd.List(ctx, r.o.Cluster.InstanceSockets())
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]Unit, 0, len(names))
	for _, name := range names {
		u, err := r.o.Systemd.Unit(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
