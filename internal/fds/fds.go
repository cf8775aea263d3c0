// Package fds keeps a process's inherited file descriptors out of everything it starts.
//
// Go marks the descriptors it opens close-on-exec, but not those a process inherits: a shell, an
// editor or a script that has a directory open when it runs paddock would otherwise hand that
// directory to the supervisor, the init and every process in the sandbox, past every
// mount-namespace boundary (the runc CVE-2024-21626 class). Every paddock process calls Seal first
// thing, so that the only descriptors a child gets are the ones paddock passes on purpose
// (exec.Cmd's Stdin/Stdout/Stderr and ExtraFiles, descriptors sent over a socket).
package fds

// Seal marks every descriptor from `from` up close-on-exec. Descriptors below it (0, 1, 2, and
// those a hidden command was handed on purpose) are left as they are.
func Seal(from int) error { return seal(from) }

// Inheritable lists the open descriptors from `from` up that are not close-on-exec: those a
// process started now would inherit beyond the ones it is given.
func Inheritable(from int) ([]int, error) { return inheritable(from) }
