package steer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"example.com/app/units"
)

// state is what the state file keeps: the IDs of the ready map and, per
// listening address, of its sockets map and program.
type state struct {
	Ready  uint32              `json:"ready"`
	Groups map[string]groupIDs `json:"groups"`
}

type groupIDs struct {
	Socks uint32 `json:"socks"`
	Prog  uint32 `json:"prog"`
}

type group struct{ socks, prog int }

// Steering is one cluster's steering, open and locked: every change goes
// through one, and [Steering.Close] releases it.
type Steering struct {
	path   string
	lock   *os.File
	st     state
	ready  int
	groups map[string]group
}

// Open locks the state at path (waiting for another holder), and opens
// the ready map it names, or makes one.
func Open(path string) (*Steering, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("steer: lock %s: %w", lock.Name(), err)
	}
	s := &Steering{path: path, lock: lock, ready: -1, groups: map[string]group{}}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &s.st); err != nil {
			// Only IDs: a damaged file is started afresh.
			s.st = state{}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		s.Close()
		return nil, fmt.Errorf("steer: %w", err)
	}
	if s.st.Groups == nil {
		s.st.Groups = map[string]groupIDs{}
	}
	s.ready = openByID(cmdMapGetFDByID, s.st.Ready, mapTypeArray, readyName)
	if s.ready < 0 {
		fd, err := mapCreate(mapTypeArray, 4, 4, turnKey+1, readyName)
		if err != nil {
			s.Close()
			return nil, unsupported(err)
		}
		s.ready = fd
		info, err := infoOf(fd, mapInfoName)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.st.Ready = info.id
		// The groups' programs read the ready map they were made with.
		s.st.Groups = map[string]groupIDs{}
	}
	return s, nil
}

// Read returns the ready slots of the cluster whose state is at path,
// without changing or making anything: [ErrNotSteered] when there is no
// steering (no state, or its maps are gone with their sockets).
func Read(path string) ([]uint32, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotSteered
	}
	if err != nil {
		return nil, fmt.Errorf("steer: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("steer: %s: %w", path, err)
	}
	fd := openByID(cmdMapGetFDByID, st.Ready, mapTypeArray, readyName)
	if fd < 0 {
		return nil, ErrNotSteered
	}
	s := Steering{ready: fd}
	defer unix.Close(fd)
	return s.Ready()
}

// unsupported marks the errors that mean "not here" rather than "wrong".
func unsupported(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return err
}

// Close releases the maps, the programs and the lock.
func (s *Steering) Close() error {
	if s.ready >= 0 {
		unix.Close(s.ready)
	}
	for _, g := range s.groups {
		unix.Close(g.socks)
		unix.Close(g.prog)
	}
	s.groups = nil
	return s.lock.Close()
}

// Ready returns the slots that take new connections, in the map's order.
func (s *Steering) Ready() ([]uint32, error) {
	k, err := lookupU32(s.ready, 0)
	if err != nil {
		return nil, fmt.Errorf("steer: read ready map: %w", err)
	}
	list := make([]uint32, 0, k)
	for i := uint32(1); i <= k && i <= MaxSlots; i++ {
		v, err := lookupU32(s.ready, i)
		if err != nil {
			return nil, fmt.Errorf("steer: read ready map: %w", err)
		}
		list = append(list, v)
	}
	return list, nil
}

// setReady writes list so that a reader never sees a slot outside both the
// old and the new list: the entries first, the count last.
func (s *Steering) setReady(list []uint32) error {
	for i, v := range list {
		if err := updateU32(s.ready, uint32(i+1), v); err != nil {
			return fmt.Errorf("steer: write ready map: %w", err)
		}
	}
	if err := updateU32(s.ready, 0, uint32(len(list))); err != nil {
		return fmt.Errorf("steer: write ready map: %w", err)
	}
	return nil
}

// group opens the sockets map and the program of the reuseport group
// listening on addr, or makes them.
func (s *Steering) group(addr string) (group, error) {
	if g, ok := s.groups[addr]; ok {
		return g, nil
	}
	ids := s.st.Groups[addr]
	g := group{
		socks: openByID(cmdMapGetFDByID, ids.Socks, unix.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, socksName),
		prog:  openByID(cmdProgGetFDByID, ids.Prog, unix.BPF_PROG_TYPE_SK_REUSEPORT, progName),
	}
	if g.socks < 0 || g.prog < 0 {
		if g.socks >= 0 {
			unix.Close(g.socks)
		}
		if g.prog >= 0 {
			unix.Close(g.prog)
		}
		var err error
		if g.socks, err = mapCreate(unix.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, MaxSlots, socksName); err != nil {
			return group{}, unsupported(err)
		}
		if g.prog, err = progLoad(program(s.ready, g.socks), progName); err != nil {
			unix.Close(g.socks)
			return group{}, unsupported(err)
		}
		socks, err := infoOf(g.socks, mapInfoName)
		if err != nil {
			return group{}, err
		}
		prog, err := infoOf(g.prog, progInfoName)
		if err != nil {
			return group{}, err
		}
		s.st.Groups[addr] = groupIDs{Socks: socks.id, Prog: prog.id}
	}
	s.groups[addr] = g
	return g, nil
}

// In puts slot's sockets (listening SO_REUSEPORT TCP sockets, one per
// address, as [SocketsOf] returns them) in their groups' maps, attaches
// the program to each group, and adds slot to the ready instances.
func (s *Steering) In(slot int, socks []int) error {
	if slot < 0 || slot >= MaxSlots {
		return fmt.Errorf("steer: slot %d out of range", slot)
	}
	if len(socks) == 0 {
		return fmt.Errorf("steer: slot %d: no socket", slot)
	}
	for _, fd := range socks {
		addr, err := localAddr(fd)
		if err != nil {
			return err
		}
		g, err := s.group(addr)
		if err != nil {
			return fmt.Errorf("steer %s: %w", addr, err)
		}
		if err := updateSocket(g.socks, uint32(slot), fd); err != nil && !s.holds(g.socks, slot, fd, err) {
			return fmt.Errorf("steer %s: put slot %d's socket in the map: %w", addr, slot, err)
		}
		// The group's program, whichever socket of it is given: attaching
		// the same program again changes nothing.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_EBPF, g.prog); err != nil {
			return unsupported(fmt.Errorf("steer %s: attach: %w", addr, err))
		}
	}
	list, err := s.Ready()
	if err != nil {
		return err
	}
	if err := s.setReady(with(list, uint32(slot))); err != nil {
		return err
	}
	return s.save()
}

// holds tells whether err, a refused update, is only the map saying it
// has the socket already (EBUSY: a socket is in one map at most), in
// slot: an instance restarted while systemd kept its socket open.
func (s *Steering) holds(socks, slot, fd int, err error) bool {
	if !errors.Is(err, unix.EBUSY) {
		return false
	}
	have, lerr := lookupCookie(socks, uint32(slot))
	cookie, cerr := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
	return lerr == nil && cerr == nil && have == cookie
}

// Out takes slot out of the ready instances: new connections go to the
// others (to every socket, by the kernel's hash, if none is left).
func (s *Steering) Out(slot int) error {
	if slot < 0 || slot >= MaxSlots {
		return fmt.Errorf("steer: slot %d out of range", slot)
	}
	list, err := s.Ready()
	if err != nil {
		return err
	}
	return s.setReady(without(list, uint32(slot)))
}

func (s *Steering) save() error {
	b, err := json.Marshal(s.st)
	if err != nil {
		return fmt.Errorf("steer: %w", err)
	}
	return units.WriteFileAtomic(s.path, append(b, '\n'), 0o600, nil)
}

// localAddr is a listening socket's address, as "127.0.0.1:8080".
func localAddr(fd int) (string, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("steer: getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", fmt.Errorf("steer: fd %d is not an IP socket", fd)
}

// SocketsOf returns copies of the listening SO_REUSEPORT TCP sockets that
// process pid holds (one per socket, however many fds it has for it),
// taken with pidfd_getfd(2), which needs the right to ptrace pid. They
// are plain fds, never *os.File: its Fd would make the socket blocking
// under the worker (one open file description). [CloseAll] closes them.
func SocketsOf(pid int) ([]int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, unsupported(fmt.Errorf("pidfd_open %d: %w", pid, err))
	}
	defer unix.Close(pidfd)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	sort.Slice(ents, func(i, j int) bool { return fdNum(ents[i].Name()) < fdNum(ents[j].Name()) })
	var out []int
	seen := map[string]bool{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(target, "socket:[") || seen[target] {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, fdNum(e.Name()), 0)
		if err != nil {
			if errors.Is(err, unix.EBADF) {
				continue // closed meanwhile
			}
			CloseAll(out)
			return nil, unsupported(fmt.Errorf("pidfd_getfd %d of process %d: %w", fdNum(e.Name()), pid, err))
		}
		if !reusePortListener(fd) {
			unix.Close(fd)
			continue
		}
		seen[target] = true
		out = append(out, fd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("process %d %w", pid, ErrNoSocket)
	}
	return out, nil
}

// CloseAll closes fds.
func CloseAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func fdNum(name string) int {
	n, err := strconv.Atoi(name)
	if err != nil {
		return -1
	}
	return n
}

func reusePortListener(fd int) bool {
	get := func(opt int) int {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		if err != nil {
			return -1
		}
		return v
	}
	domain := get(unix.SO_DOMAIN)
	return (domain == unix.AF_INET || domain == unix.AF_INET6) && get(unix.SO_TYPE) == unix.SOCK_STREAM &&
		get(unix.SO_ACCEPTCONN) == 1 && get(unix.SO_REUSEPORT) == 1
}
