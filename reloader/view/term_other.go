//go:build !linux

package view

import (
	"errors"
	"os"
)

// isTerminal: without Linux's termios, nothing is taken for a terminal;
// views print plainly.
func isTerminal(any) bool { return false }

// cbreak needs Linux's termios.
func cbreak(*os.File) (func(), error) { return nil, errors.New("no terminal control here") }

// TerminalSize needs Linux's ioctls: never a terminal here.
func TerminalSize(any) (rows, cols int, ok bool) { return 0, 0, false }

// OnResize: no SIGWINCH here; the channel never delivers.
func OnResize() (c <-chan os.Signal, stop func()) { return nil, func() {} }
