//go:build !linux

package activation

import (
	"errors"
	"fmt"
	"net"
)

// ErrFairUnsupported is returned by [Fair] where the kernel has no
// EPOLLEXCLUSIVE (anything but Linux): the caller keeps its listener and
// Go's own accept.
var ErrFairUnsupported = errors.New("fair accept needs Linux (EPOLLEXCLUSIVE)")

// Fair is Linux-only (see fair_linux.go); here it returns
// [ErrFairUnsupported] and leaves l open, untouched.
func Fair(l net.Listener) (net.Listener, error) {
	return nil, fmt.Errorf("fair accept on %s: %w", l.Addr(), ErrFairUnsupported)
}
