package view

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"unsafe"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var t syscall.Termios
	return termios(f, syscall.TCGETS, &t) == nil
}

// cbreak turns off line buffering and echo on a terminal, so keys arrive
// as they are pressed (Ctrl-C still signals), and returns the function
// that restores it.
func cbreak(f *os.File) (func(), error) {
	var old syscall.Termios
	if err := termios(f, syscall.TCGETS, &old); err != nil {
		return nil, err
	}
	raw := old
	raw.Lflag &^= syscall.ICANON | syscall.ECHO
	raw.Cc[syscall.VMIN], raw.Cc[syscall.VTIME] = 1, 0
	if err := termios(f, syscall.TCSETS, &raw); err != nil {
		return nil, err
	}
	return func() { _ = termios(f, syscall.TCSETS, &old) }, nil
}

func termios(f *os.File, req uintptr, t *syscall.Termios) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(unsafe.Pointer(t))); errno != 0 {
		return fmt.Errorf("terminal settings: %w", errno)
	}
	return nil
}

// TerminalSize is the size of the terminal w is, in rows and columns; ok
// is false when w is no terminal.
func TerminalSize(w any) (rows, cols int, ok bool) {
	f, isFile := w.(*os.File)
	if !isFile {
		return 0, 0, false
	}
	var ws struct{ Row, Col, X, Y uint16 }
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws))); errno != 0 || ws.Col == 0 {
		return 0, 0, false
	}
	return int(ws.Row), int(ws.Col), true
}

// OnResize delivers a value each time the terminal is resized (SIGWINCH)
// until stop is called.
func OnResize() (c <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	return ch, func() { signal.Stop(ch) }
}
