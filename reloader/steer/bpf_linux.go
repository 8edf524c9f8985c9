package steer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf(2) commands and the offsets of union bpf_attr's fields they use.
const (
	cmdMapCreate      = 0
	cmdMapLookupElem  = 1
	cmdMapUpdateElem  = 2
	cmdMapDeleteElem  = 3
	cmdProgLoad       = 5
	cmdProgGetFDByID  = 13
	cmdMapGetFDByID   = 14
	cmdObjGetInfoByFD = 15

	mapTypeArray = 2

	objNameLen = 16 // BPF_OBJ_NAME_LEN
)

// bpf calls bpf(2) with the attr at p, size bytes long. Every pointer in
// an attr is an unsafe.Pointer field, so that what it points to is kept
// and moved with it until the call.
func bpf(cmd int, p unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(p), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// plainAttr is a bpf_attr without pointers (map create, get fd by ID).
type plainAttr [128]byte

func (a *plainAttr) u32(off int, v uint32) *plainAttr {
	binary.LittleEndian.PutUint32(a[off:], v)
	return a
}

func (a *plainAttr) call(cmd int) (int, error) {
	return bpf(cmd, unsafe.Pointer(a), unsafe.Sizeof(*a))
}

// mapCreate makes a map and returns its fd.
func mapCreate(typ, keySize, valueSize, maxEntries uint32, name string) (int, error) {
	var a plainAttr
	a.u32(0, typ).u32(4, keySize).u32(8, valueSize).u32(12, maxEntries)
	copy(a[28:28+objNameLen-1], name)
	fd, err := a.call(cmdMapCreate)
	if err != nil {
		return -1, fmt.Errorf("bpf map create %s: %w", name, err)
	}
	return fd, nil
}

// elemAttr is the attr of BPF_MAP_*_ELEM.
type elemAttr struct {
	mapFD      uint32
	_          uint32
	key, value unsafe.Pointer
	flags      uint64
}

func elemCall(cmd, fd int, key, value unsafe.Pointer) error {
	a := elemAttr{mapFD: uint32(fd), key: key, value: value}
	_, err := bpf(cmd, unsafe.Pointer(&a), unsafe.Sizeof(a))
	return err
}

func lookupU32(fd int, key uint32) (uint32, error) {
	var v uint32
	err := elemCall(cmdMapLookupElem, fd, unsafe.Pointer(&key), unsafe.Pointer(&v))
	return v, err
}

func updateU32(fd int, key, value uint32) error {
	return elemCall(cmdMapUpdateElem, fd, unsafe.Pointer(&key), unsafe.Pointer(&value))
}

// lookupCookie is the socket cookie (SO_COOKIE) of a REUSEPORT_SOCKARRAY's
// slot.
func lookupCookie(fd int, key uint32) (uint64, error) {
	var v uint64
	err := elemCall(cmdMapLookupElem, fd, unsafe.Pointer(&key), unsafe.Pointer(&v))
	return v, err
}

// updateSocket sets a REUSEPORT_SOCKARRAY's slot to the socket sockFD.
func updateSocket(fd int, key uint32, sockFD int) error {
	v := uint64(sockFD)
	return elemCall(cmdMapUpdateElem, fd, unsafe.Pointer(&key), unsafe.Pointer(&v))
}

// progLoadAttr is the attr of BPF_PROG_LOAD, up to expected_attach_type.
type progLoadAttr struct {
	progType, insnCnt  uint32
	insns, license     unsafe.Pointer
	logLevel, logSize  uint32
	logBuf             unsafe.Pointer
	kernVersion, flags uint32
	name               [objNameLen]byte
	ifindex            uint32
	expectedAttachType uint32
}

// progLoad loads the selector and returns its fd, with the verifier's log
// in the error if it refuses it.
func progLoad(insns []byte, name string) (int, error) {
	license := []byte("GPL\x00")
	log := make([]byte, 64<<10)
	a := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_SK_REUSEPORT, insnCnt: uint32(len(insns) / 8),
		insns: unsafe.Pointer(&insns[0]), license: unsafe.Pointer(&license[0]),
		logLevel: 1, logSize: uint32(len(log)), logBuf: unsafe.Pointer(&log[0]),
		expectedAttachType: unix.BPF_SK_REUSEPORT_SELECT_OR_MIGRATE,
	}
	copy(a.name[:objNameLen-1], name)
	fd, err := bpf(cmdProgLoad, unsafe.Pointer(&a), unsafe.Sizeof(a))
	if err != nil {
		if n := bytes.IndexByte(log, 0); n > 0 {
			return -1, fmt.Errorf("bpf prog load: %w; verifier: %s", err, bytes.TrimSpace(log[:n]))
		}
		return -1, fmt.Errorf("bpf prog load: %w", err)
	}
	return fd, nil
}

// fdByID opens a map or program by its ID.
func fdByID(cmd int, id uint32) (int, error) {
	var a plainAttr
	return a.u32(0, id).call(cmd)
}

// objInfo is the start of bpf_map_info and bpf_prog_info: their type and
// ID, and the name (at 24 in a map's info, 64 in a program's).
type objInfo struct {
	typ, id uint32
	name    string
}

func infoOf(fd int, nameOff int) (objInfo, error) {
	info := make([]byte, 128)
	a := struct {
		fd, infoLen uint32
		info        unsafe.Pointer
	}{uint32(fd), uint32(len(info)), unsafe.Pointer(&info[0])}
	_, err := bpf(cmdObjGetInfoByFD, unsafe.Pointer(&a), unsafe.Sizeof(a))
	if err != nil {
		return objInfo{}, fmt.Errorf("bpf info of fd %d: %w", fd, err)
	}
	name := info[nameOff : nameOff+objNameLen]
	if n := bytes.IndexByte(name, 0); n >= 0 {
		name = name[:n]
	}
	return objInfo{typ: binary.LittleEndian.Uint32(info), id: binary.LittleEndian.Uint32(info[4:]), name: string(name)}, nil
}

const (
	mapInfoName  = 24
	progInfoName = 64
)

// openByID opens the map or program id if it is still the one named name
// of type typ (IDs of freed objects are not reused at once, but are
// reused), or returns -1.
func openByID(cmd int, id uint32, typ uint32, name string) int {
	if id == 0 {
		return -1
	}
	fd, err := fdByID(cmd, id)
	if err != nil {
		return -1
	}
	off := mapInfoName
	if cmd == cmdProgGetFDByID {
		off = progInfoName
	}
	info, err := infoOf(fd, off)
	if err != nil || info.typ != typ || info.name != name {
		unix.Close(fd)
		return -1
	}
	return fd
}
