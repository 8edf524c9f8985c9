//go:build !linux

package steer

import (
	"fmt"
	"runtime"
)

// Steering needs Linux; elsewhere every call says so.
type Steering struct{}

func errOS() error { return fmt.Errorf("%w on %s", ErrUnsupported, runtime.GOOS) }

// Open fails: steering needs Linux.
func Open(string) (*Steering, error) { return nil, errOS() }

// Close does nothing.
func (*Steering) Close() error { return nil }

// Ready fails: steering needs Linux.
func (*Steering) Ready() ([]uint32, error) { return nil, errOS() }

// In fails: steering needs Linux.
func (*Steering) In(int, []int) error { return errOS() }

// Out fails: steering needs Linux.
func (*Steering) Out(int) error { return errOS() }

// SocketsOf fails: steering needs Linux.
func SocketsOf(int) ([]int, error) { return nil, errOS() }

// CloseAll does nothing: there is nothing to close.
func CloseAll([]int) {}

// Read fails: steering needs Linux.
func Read(string) ([]uint32, error) { return nil, errOS() }
