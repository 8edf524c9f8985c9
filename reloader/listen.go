package reloader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
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
	if r.Listen == nil {
		return nil
	}
	var moved []string
	sock, err := r.Systemd.Unit(ctx, r.prefix()+".socket")
	if err != nil {
		return err
	}
	if sock.ActiveState == "active" && !sameAddresses(sock.Listen, r.Listen) {
		moved = append(moved, fmt.Sprintf("%s listens on %s and the configuration says %s",
			sock.Name, strings.Join(sock.Listen, ", "), strings.Join(r.Listen, ", ")))
	}
	own, err := r.Systemd.List(ctx, r.prefix()+"@*.socket")
	if err != nil {
		return err
	}
	slices.Sort(own)
	for _, name := range own {
		u, err := r.Systemd.Unit(ctx, name)
		if err != nil {
			return err
		}
		switch {
		case u.ActiveState != "active":
		case r.InstanceListen == nil:
			moved = append(moved, fmt.Sprintf("%s listens on %s (socket = \"reuseport\") and the configuration says socket = \"shared\"",
				name, strings.Join(u.Listen, ", ")))
		case !sameAddresses(u.Listen, r.InstanceListen):
			moved = append(moved, fmt.Sprintf("%s listens on %s and the configuration says %s",
				name, strings.Join(u.Listen, ", "), strings.Join(r.InstanceListen, ", ")))
		}
	}
	if len(moved) == 0 {
		return nil
	}
	p := r.prefix()
	return fmt.Errorf("%w: %s; a socket takes new addresses only when it restarts, which stops the instances using it: "+
		"set listen and socket back, or apply them with `systemctl daemon-reload && systemctl stop %s.target %s.socket '%s@*.socket' && systemctl start %s.target` "+
		"(the cluster is down meanwhile). Nothing was changed",
		ErrListenChanged, strings.Join(moved, "; "), p, p, p, p)
}
