//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The demo boots a throwaway systemd with systemd-nspawn: Linux only.
func main() {
	fmt.Fprintln(os.Stderr, "demo: needs Linux (systemd-nspawn, a real systemd)")
	os.Exit(1)
}
