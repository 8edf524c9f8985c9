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
