package steer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"example.com/app/units"
)

// MaxSlots bounds an instance's number: the sockets map's size.
const MaxSlots = 1024

// Map and program names, as bpftool shows them.
const (
	readyName = "app_ready"
	socksName = "app_socks"
	progName  = "app_steer"
)

// ErrUnsupported is wrapped by the errors of a kernel or sandbox that
// cannot steer: no bpf(2) (or not for us), no pidfd_getfd(2). The kernel's
// own hash then spreads the connections over every instance's socket, as
// without steering.
var ErrUnsupported = errors.New("steering is not available here")

// ErrNoSocket is wrapped by the error of [SocketsOf] when the process
// holds no listening SO_REUSEPORT TCP socket: a worker that does not serve
// the socket systemd passed it.
var ErrNoSocket = errors.New("holds no listening SO_REUSEPORT TCP socket")

// ErrNotSteered is returned by Read when the cluster has no steering.
var ErrNotSteered = errors.New("not steered")

// StatePath is where the IDs of cluster's maps and programs are kept.
func StatePath(cluster string) string {
	return units.PrivateDir + "/steer-" + cluster + ".json"
}

// ParseUnit reads an instance's unit name ("app@1.service", "app-web@0")
// into its cluster and slot.
func ParseUnit(unit string) (cluster string, slot int, err error) {
	name := strings.TrimSuffix(unit, ".service")
	cluster, inst, ok := strings.Cut(name, "@")
	if !ok || cluster == "" {
		return "", 0, fmt.Errorf("%q: want an instance's unit, such as app@0.service", unit)
	}
	slot, err = strconv.Atoi(inst)
	if err != nil || slot < 0 || slot >= MaxSlots || strconv.Itoa(slot) != inst {
		return "", 0, fmt.Errorf("%q: the instance must be a number from 0 to %d", unit, MaxSlots-1)
	}
	return cluster, slot, nil
}

// with returns list with slot in it, at the end if it was not.
func with(list []uint32, slot uint32) []uint32 {
	for _, s := range list {
		if s == slot {
			return list
		}
	}
	return append(list, slot)
}

// without returns list without slot, the others in their order.
func without(list []uint32, slot uint32) []uint32 {
	out := make([]uint32, 0, len(list))
	for _, s := range list {
		if s != slot {
			out = append(out, s)
		}
	}
	return out
}
