package steer

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseUnit(t *testing.T) {
	for _, c := range []struct {
		unit    string
		cluster string
		slot    int
	}{{"app@0.service", "app", 0}, {"app-web@12.service", "app-web", 12}, {"app@3", "app", 3}} {
		cl, slot, err := ParseUnit(c.unit)
		assert.NoError(t, err, c.unit)
		assert.Equal(t, c.cluster, cl)
		assert.Equal(t, c.slot, slot)
	}
	for _, bad := range []string{"app.service", "@1.service", "app@x.service", "app@01.service", "app@-1.service", "app@1024.service"} {
		_, _, err := ParseUnit(bad)
		assert.Error(t, err, bad)
	}
}

func TestReadyList(t *testing.T) {
	assert.Equal(t, []uint32{1, 0}, with([]uint32{1}, 0))
	assert.Equal(t, []uint32{1, 0}, with([]uint32{1, 0}, 0))
	assert.Equal(t, []uint32{2}, without([]uint32{1, 2, 1}, 1))
	assert.Empty(t, without([]uint32{1}, 1))
}

// The selector's shape: the map fds where they belong, every jump to the
// final "return SK_PASS". The kernel's verifier checks the rest (TestSteering).
func TestProgram(t *testing.T) {
	p := program(7, 9)
	n := len(p) / 8
	var maps []int32
	for i := 0; i < n; i++ {
		op, regs := p[8*i], p[8*i+1]
		imm := int32(binary.LittleEndian.Uint32(p[8*i+4:]))
		off := int16(binary.LittleEndian.Uint16(p[8*i+2:]))
		switch op {
		case opLdImm64:
			assert.Equal(t, uint8(pseudoMapFD), regs>>4)
			maps = append(maps, imm)
			i++
		case opJeqImm:
			assert.Equal(t, n-2, i+1+int(off), "jump at %d", i)
		}
	}
	assert.Equal(t, []int32{7, 7, 7, 9}, maps, "ready (turn, count, slot), then socks")
	assert.Equal(t, byte(opExit), p[len(p)-8])
	assert.Equal(t, byte(opMov64Imm), p[len(p)-16])
}
