package seccompfilter

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/net/bpf"
)

// TestDenyAny runs the generated binary search in a BPF interpreter for every syscall number
// and checks that exactly the listed ones are denied.
func TestDenyAny(t *testing.T) {
	for _, nums := range [][]uint32{{}, {7}, {1, 2}, {3, 9, 27}, {0, 1, 2, 3, 4},
		{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113,
			127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251,
			257, 263, 269, 271, 277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397}} {
		prog := []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 4}}
		prog = append(prog, DenyAny(nums, bpf.RetConstant{Val: 1})...)
		prog = append(prog, bpf.RetConstant{Val: 2})
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%v: %v", nums, err)
		}
		for nr := uint32(0); nr < 512; nr++ {
			in := make([]byte, 64)
			binary.BigEndian.PutUint32(in, nr) // the VM loads big-endian words
			got, err := vm.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if slices.Contains(nums, nr) {
				want = 1
			}
			if got != want {
				t.Fatalf("set %v, syscall %d: verdict %d, want %d", nums, nr, got, want)
			}
		}
	}
}

// TestAssembles makes sure every denied name exists in each architecture's table or is
// filtered out, and the whole program fits BPF's limits.
func TestAssembles(t *testing.T) {
	for goarch := range Arches {
		info, err := Info(goarch)
		if err != nil {
			t.Fatal(err)
		}
		p := policy(info)
		if _, err := p.Assemble(); err != nil {
			t.Errorf("%s: %v", goarch, err)
		}
		if _, err := Assemble(goarch); err != nil {
			t.Errorf("%s: %v", goarch, err)
		}
	}
	if _, err := Assemble("mips"); err == nil {
		t.Error("assembled a filter for an architecture paddock does not know")
	}
}
