//go:build unix && !linux

package fds

func seal(from int) error { return sealByList(from) }
