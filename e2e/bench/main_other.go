//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The bench boots a throwaway systemd with systemd-nspawn: Linux only.
func main() {
	fmt.Fprintln(os.Stderr, "bench: needs Linux (systemd-nspawn, a real systemd)")
	os.Exit(1)
}
