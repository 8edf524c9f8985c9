// Package cli is app-reloader's command line: the table of commands
// (cli.go), one file per command, each parsing its flags, calling the
// engine (package reloader) or the fleet, and printing through package
// view, or JSON with --json. Exit status: 0 done, 1 failed, 2 bad usage.
package cli
