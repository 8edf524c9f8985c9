// Package proc reads what the reloader needs to know of this machine's
// processes from /proc: who a process is across PID reuse (a rollout's
// reloader, to tell a running rollout from an interrupted one), a
// process's CPU time and memory (where systemd has no accounting), and
// the machine's available memory (for surge "auto").
package proc
