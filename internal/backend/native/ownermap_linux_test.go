package native

import (
	"syscall"
	"testing"
)

// mapOf applies an id map: the host id of namespace id n, or -1.
func mapOf(m []syscall.SysProcIDMap, n int) int {
	for _, r := range m {
		if n >= r.ContainerID && n < r.ContainerID+r.Size {
			return r.HostID + n - r.ContainerID
		}
	}
	return -1
}

func TestOwnerMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, u int
		want map[int]int // disk id -> sandbox id (-1: unmapped)
	}{
		{"root's workspace, agent 1000", 0, 1000, map[int]int{0: 1000, 1000: -1, 1 << 30: 0, 1: 1, 999: 999, 1001: 1001, 65535: 65535}},
		{"user's workspace is agent", 1000, 1000, map[int]int{0: 0, 1000: 1000, 65535: 65535}},
		{"user 1001, agent 1000", 1001, 1000, map[int]int{0: 0, 1001: 1000, 1000: -1, 1<<30 + 1001: 1001, 1002: 1002}},
		{"owner beyond the range", 200000, 1000, map[int]int{200000: 1000, 1000: -1, 0: 0, 65535: 65535}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ownerMap(tc.w, tc.u)
			hosts := map[int]bool{}
			for _, r := range m {
				for i := 0; i < r.Size; i++ {
					if hosts[r.HostID+i] {
						t.Fatalf("sandbox id %d mapped twice: %v", r.HostID+i-rootModeBase, m)
					}
					hosts[r.HostID+i] = true
				}
			}
			for disk, want := range tc.want {
				got := mapOf(m, disk)
				if want < 0 && got != -1 {
					t.Errorf("disk %d reads as sandbox %d, want unmapped", disk, got-rootModeBase)
				}
				if want >= 0 && got != rootModeBase+want {
					t.Errorf("disk %d reads as host %d, want sandbox %d", disk, got, want)
				}
			}
		})
	}
}
