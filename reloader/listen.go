package reloader

import (
	"errors"
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
