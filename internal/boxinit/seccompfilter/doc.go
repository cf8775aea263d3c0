// Package seccompfilter assembles the seccomp program of every sandbox process, for each
// architecture paddock is built for. The init does not link it: the program is assembled
// ahead of time into boxinit (seccomp_filters_linux.go, kept current by its tests), because
// the syscall tables of the library used here cost most of a millisecond to initialise in
// every paddock process.
package seccompfilter
