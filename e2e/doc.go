// Package e2e is the test bed for end-to-end tests and the demo: a
// throwaway real systemd ([Machine]: systemd-nspawn booting an overlay of
// this machine's root on a tmpfs), and a bounded HTTP load generator
// ([Load]) that drives the cluster over loopback.
//
// The tests themselves are behind the e2e build tag and need root:
//
//	sudo go test -tags e2e ./e2e/
//
// `make test` runs them. A missing prerequisite fails the run with what to
// install; nothing is skipped.
package e2e
