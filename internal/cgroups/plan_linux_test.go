package cgroups

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hybridMountinfo is this project's CI host: v1 hierarchies plus an empty v2.
const hybridMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

// unifiedMountinfo is a typical systemd host with only cgroup v2.
const unifiedMountinfo = `22 1 0:21 / /proc rw,nosuid - proc proc rw
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
90 26 0:24 /user.slice /mnt/my\040cgroups rw - cgroup2 cgroup2 rw
`

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name     string
		info     string
		wantV2   string
		wantV1   map[string]string
		usesV1   bool
		ownPath  string
		ownDir   string
		ownError bool
	}{
		{
			name:   "hybrid",
			info:   hybridMountinfo,
			wantV2: "/sys/fs/cgroup/unified",
			wantV1: map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
				"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids"},
			usesV1:  true,
			ownPath: "/",
			ownDir:  "/sys/fs/cgroup/unified",
		},
		{
			name:    "unified",
			info:    unifiedMountinfo,
			wantV2:  "/sys/fs/cgroup",
			wantV1:  map[string]string{},
			ownPath: "/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope",
			ownDir:  "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mounts, err := parseMountinfo(strings.NewReader(tt.info))
			if err != nil {
				t.Fatal(err)
			}
			lay := newLayout(mounts)
			if lay.v2 == nil || lay.v2.dir != tt.wantV2 {
				t.Errorf("v2 mount = %+v, want %s", lay.v2, tt.wantV2)
			}
			got := map[string]string{}
			for c, m := range lay.v1 {
				got[c] = m.dir
			}
			if !maps.Equal(got, tt.wantV1) {
				t.Errorf("v1 mounts = %v, want %v", got, tt.wantV1)
			}
			if lay.usesV1() != tt.usesV1 {
				t.Errorf("usesV1() = %v, want %v", lay.usesV1(), tt.usesV1)
			}
			dir, err := underMount(*lay.v2, tt.ownPath)
			if err != nil || dir != tt.ownDir {
				t.Errorf("underMount(%s) = %q, %v; want %q", tt.ownPath, dir, err, tt.ownDir)
			}
		})
	}
}

func TestMountinfoEscapesAndRoots(t *testing.T) {
	mounts, err := parseMountinfo(strings.NewReader(unifiedMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 2 || mounts[1].dir != "/mnt/my cgroups" || mounts[1].root != "/user.slice" {
		t.Fatalf("mounts = %+v, want the escaped second mount at /mnt/my cgroups rooted at /user.slice", mounts)
	}
	if dir, err := underMount(mounts[1], "/user.slice/user-1.slice"); err != nil || dir != "/mnt/my cgroups/user-1.slice" {
		t.Errorf("underMount in a sub-mount = %q, %v", dir, err)
	}
	if _, err := underMount(mounts[1], "/system.slice"); err == nil {
		t.Error("underMount outside the mounted subtree succeeded, want an error")
	}
}

func TestParseV2Path(t *testing.T) {
	tests := []struct {
		data string
		want string
		ok   bool
	}{
		{"12:pids:/\n1:name=systemd:/x\n0::/user.slice/a.scope\n", "/user.slice/a.scope", true},
		{"0::/\n", "/", true},
		{"4:memory:/x\n", "", false},
	}
	for _, tt := range tests {
		got, err := parseV2Path(tt.data)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseV2Path(%q) = %q, %v; want %q ok=%v", tt.data, got, err, tt.want, tt.ok)
		}
	}
}

// fakeV2 lays out a fake cgroup v2 group directory (plain files in a temp
// dir) for checking v2Plan's decisions. It runs as any user: only files the
// test itself made are checked for writability.
type fakeV2 struct {
	controllers string
	subtree     string
	procs       string
	nonRoot     bool // has cgroup.events, as every group but the root does
	noCtlFile   bool
}

func (f fakeV2) make(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"cgroup.subtree_control": f.subtree, "cgroup.procs": f.procs}
	if !f.noCtlFile {
		files["cgroup.controllers"] = f.controllers
	}
	if f.nonRoot {
		files["cgroup.events"] = "populated 1\nfrozen 0\n"
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestV2Plan(t *testing.T) {
	tests := []struct {
		name             string
		fake             fakeV2
		fix              string
		driver           string
		cpu, mem, pids   bool
		reasonHas        []string
		wantEmptyReason  bool
		wantPathsInSlice bool
	}{
		{
			name:   "root group offers everything",
			fake:   fakeV2{controllers: "cpuset cpu io memory hugetlb pids rdma misc"},
			driver: DriverV2, cpu: true, mem: true, pids: true,
			wantEmptyReason: true, wantPathsInSlice: true,
		},
		{
			name:   "empty delegated group",
			fake:   fakeV2{controllers: "cpu memory pids", nonRoot: true},
			driver: DriverV2, cpu: true, mem: true, pids: true,
			wantEmptyReason: true, wantPathsInSlice: true,
		},
		{
			name:   "cpu not delegated",
			fake:   fakeV2{controllers: "memory pids", nonRoot: true},
			fix:    "try the fix",
			driver: DriverV2, mem: true, pids: true,
			reasonHas: []string{"cpu controller is not available", "try the fix"},
		},
		{
			name:      "group holds processes",
			fake:      fakeV2{controllers: "cpu memory pids", procs: "42\n", nonRoot: true},
			fix:       "try the fix",
			driver:    DriverNone,
			reasonHas: []string{"holds processes", "try the fix"},
		},
		{
			name:   "processes but controllers already enabled",
			fake:   fakeV2{controllers: "cpu memory pids", subtree: "cpu memory pids", procs: "42\n", nonRoot: true},
			driver: DriverV2, cpu: true, mem: true, pids: true,
			wantEmptyReason: true, wantPathsInSlice: true,
		},
		{
			name:      "hybrid host's empty v2",
			fake:      fakeV2{controllers: "hugetlb"},
			driver:    DriverNone,
			reasonHas: []string{"cpu controller is not available", "memory controller", "pids controller"},
		},
		{
			name:      "not a cgroup",
			fake:      fakeV2{noCtlFile: true},
			driver:    DriverNone,
			reasonHas: []string{"cannot read the cgroup v2 controllers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := tt.fake.make(t)
			e := v2Plan(top, tt.fix).enf
			if e.Driver != tt.driver || e.CPU != tt.cpu || e.Memory != tt.mem || e.Pids != tt.pids {
				t.Errorf("v2Plan = %+v, want driver %s cpu %v memory %v pids %v", e, tt.driver, tt.cpu, tt.mem, tt.pids)
			}
			for _, s := range tt.reasonHas {
				if !strings.Contains(e.Reason, s) {
					t.Errorf("reason %q does not mention %q", e.Reason, s)
				}
			}
			if tt.wantEmptyReason && e.Reason != "" {
				t.Errorf("reason = %q, want none", e.Reason)
			}
			if tt.wantPathsInSlice && !slices.Equal(e.Paths, []string{filepath.Join(top, v2Slice)}) {
				t.Errorf("paths = %v, want [%s]", e.Paths, filepath.Join(top, v2Slice))
			}
			if exists(filepath.Join(top, v2Slice)) {
				t.Error("v2Plan created paddock.slice; planning must create nothing")
			}
		})
	}
}

func TestV1PlanMissingHierarchy(t *testing.T) {
	cpu, mem := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(cpu, "cpu.cfs_quota_us"), []byte("-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lay := layout{v1: map[string]cgroupMount{
		"cpu":     {dir: cpu, ctrls: []string{"rw", "cpu", "cpuacct"}},
		"cpuacct": {dir: cpu, ctrls: []string{"rw", "cpu", "cpuacct"}},
		"memory":  {dir: mem, ctrls: []string{"rw", "memory"}},
	}}
	p := v1Plan(lay)
	e := p.enf
	if e.Driver != DriverV1 || !e.CPU || !e.Memory || e.Pids {
		t.Fatalf("v1Plan = %+v, want v1 with cpu and memory but not pids", e)
	}
	if !strings.Contains(e.Reason, "no cgroup v1 pids hierarchy") {
		t.Errorf("reason %q does not explain the missing pids hierarchy", e.Reason)
	}
	want := []string{filepath.Join(cpu, v1Parent), filepath.Join(mem, v1Parent)}
	slices.Sort(want)
	if !slices.Equal(e.Paths, want) {
		t.Errorf("paths = %v, want %v (one per hierarchy, co-mounted cpu,cpuacct once)", e.Paths, want)
	}
	if err := os.Remove(filepath.Join(cpu, "cpu.cfs_quota_us")); err != nil {
		t.Fatal(err)
	}
	if e := v1Plan(lay).enf; e.CPU || !strings.Contains(e.Reason, "cpu.cfs_quota_us") {
		t.Errorf("without CFS bandwidth control: %+v, want CPU not enforced with a reason", e)
	}
}

func TestRootlessPlanOnV1(t *testing.T) {
	mounts, err := parseMountinfo(strings.NewReader(hybridMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	e := rootlessPlan(newLayout(mounts)).enf
	if e.Driver != DriverNone || !strings.Contains(e.Reason, "cgroup v1") || !strings.Contains(e.Reason, "Delegate=yes") {
		t.Errorf("rootless plan on a hybrid host = %+v, want none with a reason naming v1 and the fix", e)
	}
}
