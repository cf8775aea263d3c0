//go:build !linux

package dockeregress

import (
	"fmt"
	"syscall"
)

func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// ServeMain: the host side needs a Linux host (the socket is bind-mounted into the container).
func ServeMain(string) int {
	fmt.Println("paddock: egress on the Docker backend needs a Linux host")
	return 1
}
