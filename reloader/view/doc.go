// Package view is what a person sees of the cluster on a terminal or in a
// log: a rollout's progress (one line per step, or one line per instance
// rewritten in place on a terminal), its report, status (pm2 list), describe,
// top (pm2 monit) and the instances' merged logs. Colours only on a
// terminal; anything an instance said (its STATUS=, its log lines) is shown
// with control characters escaped. Machines get --json from the command
// line instead.
package view
