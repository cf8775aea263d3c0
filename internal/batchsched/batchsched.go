// Package batchsched marks a paddock process as a batch process for the kernel's scheduler.
//
// The egress proxy forwards between two loopback connections. Under the default policy every
// packet that wakes it preempts the process that sent it, and it moves one TLS record (16 KiB)
// per wakeup: on a two-core machine that cost a third of a bulk download's throughput. A batch
// thread is not given the CPU at wakeup, only at the next scheduling point (within a time
// slice, about a millisecond), so it finds the data of several packets and moves them at once.
// Its share of the CPU and its nice value are unchanged, and no privilege is needed. Children
// inherit the policy: call it once the process has started the ones that should not have it.
package batchsched
