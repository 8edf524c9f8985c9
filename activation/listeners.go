package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"

	sdactivation "github.com/coreos/go-systemd/v22/activation"
)

// ErrNotActivated is returned by [Listeners] when systemd passed this process
// no file descriptors (LISTEN_FDS unset, zero, or meant for another PID).
var ErrNotActivated = errors.New("not socket-activated: no LISTEN_FDS for this process")

// ErrNoListener is returned by [Listen] when the process was socket-activated
// but no passed socket carries the requested name.
var ErrNoListener = errors.New("no passed socket with that name")

// Listeners takes the listening sockets systemd passed to this process
// (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), grouped by name. A socket without
// FileDescriptorName= is named after its socket unit (for example
// "app.socket"). The environment variables are unset so that child
// processes do not inherit them.
//
// It returns [ErrNotActivated] when nothing was passed, and an error naming
// the descriptor when one is not a listening stream socket; it never returns
// a nil listener.
func Listeners() (map[string][]net.Listener, error) {
	files := sdactivation.Files(true)
	if len(files) == 0 {
		return nil, ErrNotActivated
	}
	byName := make(map[string][]net.Listener, len(files))
	var errs []error
	for i, f := range files {
		l, err := net.FileListener(f)
		// FileListener dups the descriptor; ours is no longer needed.
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("fd %d (%q) is not a listening socket: %w", 3+i, f.Name(), err))
			continue
		}
		byName[f.Name()] = append(byName[f.Name()], l)
	}
	if len(errs) > 0 {
		closeAll(byName)
		return nil, errors.Join(errs...)
	}
	return byName, nil
}

// Listen returns the sockets systemd passed under name, or every passed
// socket when name is empty. When the process was not socket-activated it
// listens on fallback instead (a TCP address such as "127.0.0.1:8080"), so a
// worker also runs outside systemd; an empty fallback makes that an error.
//
// The returned slice is never empty and holds no nil listener.
func Listen(name, fallback string) ([]net.Listener, error) {
	byName, err := Listeners()
	switch {
	case errors.Is(err, ErrNotActivated):
		if fallback == "" {
			return nil, err
		}
		l, lerr := net.Listen("tcp", fallback)
		if lerr != nil {
			return nil, fmt.Errorf("not socket-activated; listen on fallback %s: %w", fallback, lerr)
		}
		return []net.Listener{l}, nil
	case err != nil:
		return nil, err
	}
	var picked []net.Listener
	for _, n := range names(byName) {
		if name == "" || n == name {
			picked = append(picked, byName[n]...)
		}
	}
	if len(picked) == 0 {
		closeAll(byName)
		return nil, fmt.Errorf("listener %q (passed: %s): %w", name, strings.Join(names(byName), ", "), ErrNoListener)
	}
	if name != "" {
		// Sockets under other names are not ours to serve.
		delete(byName, name)
		closeAll(byName)
	}
	return picked, nil
}

func closeAll(byName map[string][]net.Listener) {
	for _, ls := range byName {
		for _, l := range ls {
			l.Close()
		}
	}
}

func names(byName map[string][]net.Listener) []string {
	ns := make([]string, 0, len(byName))
	for n := range byName {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// ListenUnix listens on a Unix stream socket at path, a socket the process
// owns itself (such as an instance's own probe address). A socket file left
// at path by an earlier process is replaced; any other file is an error.
// Closing the listener removes the file.
func ListenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen on %s: exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen on %s: remove the stale socket: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}
