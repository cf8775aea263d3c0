package fds

// Windows handles are inherited only when a child is created with inheritance on and the
// handle is marked inheritable; Go's os/exec passes only the ones it is given.
func seal(int) error { return nil }

func inheritable(int) ([]int, error) { return nil, nil }
