package steer

import "encoding/binary"

// eBPF instruction encoding (linux/bpf.h, linux/bpf_common.h).
const (
	opLdImm64      = 0x18 // BPF_LD | BPF_IMM | BPF_DW: two slots
	opLdxMemW      = 0x61 // dst = *(u32 *)(src + off)
	opStMemW       = 0x62 // *(u32 *)(dst + off) = imm
	opStxMemW      = 0x63 // *(u32 *)(dst + off) = src
	opMov64Reg     = 0xbf
	opMov64Imm     = 0xb7
	opAdd64Imm     = 0x07
	opAdd32Imm     = 0x04
	opMod32Reg     = 0x9c // BPF_ALU | BPF_MOD | BPF_X
	opJeqImm       = 0x15
	opAtomicW      = 0xc3 // BPF_STX | BPF_ATOMIC | BPF_W
	atomicFetchAdd = 0x01 // BPF_ADD | BPF_FETCH: src = old value
	opCall         = 0x85
	opExit         = 0x95

	pseudoMapFD = 1 // src_reg of a ld_imm64 that holds a map's fd

	helperMapLookupElem     = 1
	helperSkSelectReuseport = 82

	skPass = 1 // SK_PASS
)

// insn is one eBPF instruction.
type insn struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32
}

func (i insn) encode(b []byte) {
	b[0] = i.op
	b[1] = i.dst | i.src<<4
	binary.LittleEndian.PutUint16(b[2:], uint16(i.off))
	binary.LittleEndian.PutUint32(b[4:], uint32(i.imm))
}

// ldMap loads a map's fd into dst: two instruction slots.
func ldMap(dst uint8, fd int) []insn {
	return []insn{{op: opLdImm64, dst: dst, src: pseudoMapFD, imm: int32(fd)}, {}}
}

// turnKey is the ready map's entry that counts connections: the turn.
const turnKey = MaxSlots + 1

// program is the selector: ready[1 + turn % ready[0]] names the slot whose
// socket takes the connection, turn being ready[turnKey], incremented
// atomically for each. Registers: r6 ctx, r7 turn then slot, r8 k.
func program(readyFD, socksFD int) []byte {
	var p []insn
	add := func(is ...insn) { p = append(p, is...) }
	lookup := func() { // r0 = lookup(ready, *(u32 *)(r10-4))
		add(ldMap(1, readyFD)...)
		add(insn{op: opMov64Reg, dst: 2, src: 10}, insn{op: opAdd64Imm, dst: 2, imm: -4})
		add(insn{op: opCall, imm: helperMapLookupElem})
	}
	var toPass []int // jumps to patch to the final "return SK_PASS"
	jumpIfZero := func(reg uint8) {
		toPass = append(toPass, len(p))
		add(insn{op: opJeqImm, dst: reg})
	}

	add(insn{op: opMov64Reg, dst: 6, src: 1})
	add(insn{op: opStMemW, dst: 10, off: -4, imm: turnKey})
	lookup()
	jumpIfZero(0)
	add(insn{op: opMov64Imm, dst: 7, imm: 1})
	add(insn{op: opAtomicW, dst: 0, src: 7, imm: atomicFetchAdd})
	add(insn{op: opStMemW, dst: 10, off: -4, imm: 0})
	lookup()
	jumpIfZero(0)
	add(insn{op: opLdxMemW, dst: 8, src: 0})
	jumpIfZero(8)
	add(insn{op: opMod32Reg, dst: 7, src: 8})
	add(insn{op: opAdd32Imm, dst: 7, imm: 1})
	add(insn{op: opStxMemW, dst: 10, src: 7, off: -4})
	lookup()
	jumpIfZero(0)
	add(insn{op: opLdxMemW, dst: 7, src: 0})
	add(insn{op: opStxMemW, dst: 10, src: 7, off: -8})
	add(insn{op: opMov64Reg, dst: 1, src: 6})
	add(ldMap(2, socksFD)...)
	add(insn{op: opMov64Reg, dst: 3, src: 10}, insn{op: opAdd64Imm, dst: 3, imm: -8})
	add(insn{op: opMov64Imm, dst: 4, imm: 0})
	add(insn{op: opCall, imm: helperSkSelectReuseport})
	pass := len(p)
	add(insn{op: opMov64Imm, dst: 0, imm: skPass}, insn{op: opExit})
	for _, j := range toPass {
		p[j].off = int16(pass - j - 1)
	}

	b := make([]byte, 8*len(p))
	for i, in := range p {
		in.encode(b[8*i:])
	}
	return b
}
