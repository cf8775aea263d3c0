package batchsched

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Process puts every thread of this process under SCHED_BATCH; threads started later inherit
// it from the thread that starts them.
func Process() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_BATCH}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && err != unix.ESRCH {
			return fmt.Errorf("batch scheduling for thread %d: %w", tid, err)
		}
	}
	return nil
}
