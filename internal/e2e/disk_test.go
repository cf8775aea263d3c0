package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paddockhq/paddock/internal/image/imagetest"
)

// diskInspect is the disk part of inspect.
type diskInspect struct {
	Method      string `json:"method"`
	LimitBytes  int64  `json:"limit_bytes"`
	LimitInodes int64  `json:"limit_inodes"`
	UsedBytes   int64  `json:"used_bytes"`
	Reason      string `json:"reason"`
}

func inspectDisk(t *testing.T, e *env, name string) diskInspect {
	t.Helper()
	var v []struct {
		Limits struct {
			Requested struct {
				DiskBytes  int64 `json:"disk_bytes"`
				DiskInodes int64 `json:"disk_inodes"`
			} `json:"requested"`
			Disk diskInspect `json:"disk"`
		} `json:"limits"`
	}
	out := e.ok("", "inspect", name)
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("inspect %s: %v\n%s", name, err, out)
	}
	return v[0].Limits.Disk
}

// fillScript writes what it can to /root/big and then makes empty files in /tmp until the
// sandbox's disk refuses; it prints the bytes written, the files made, and the last error.
const fillScript = `dd if=/dev/zero of=/root/big bs=1M count=200 2>/tmp/dd.err; tail -1 /tmp/dd.err >&2; stat -c 'bytes %s' /root/big; rm -f /root/big /tmp/dd.err
i=0; while : 2>/dev/null > /tmp/f$i; do i=$((i+1)); done; echo "files $i"; : > /tmp/last || true`

// fill runs fillScript in a sandbox and returns the bytes and files it managed to write.
func fill(t *testing.T, e *env, ws string, args ...string) (bytes, files int64, stderr string) {
	t.Helper()
	r := e.run(ws, append(args, "shell", "-c", fillScript)...)
	for _, line := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "bytes "); ok {
			bytes, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "files "); ok {
			files, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if r.code != 0 || bytes == 0 || files == 0 {
		t.Fatalf("filling the sandbox: %s", r)
	}
	return bytes, files, r.stderr
}

// mountsUnder lists the host's mounts below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}

// checkDiskLimit runs a sandbox with --disk 64m in a fresh folder and checks, as a user would,
// that it stops at about 64 MiB and 4096 files (the disk is full, or its quota exceeded), that the
// workspace is not limited, that the limit and the files survive stop and start, and that rm
// leaves nothing mounted or attached.
func checkDiskLimit(t *testing.T, e *env, wantMethod string) {
	ws := e.workspace("proj")
	bytes, files, stderr := fill(t, e, ws, "run", "--disk", "64m")
	if bytes > 64<<20 || bytes < 40<<20 {
		t.Errorf("wrote %d bytes under a 64m limit", bytes)
	}
	if files > 4096 || files < 3000 {
		t.Errorf("made %d files under a limit of 4096 inodes", files)
	}
	if !strings.Contains(stderr, "No space left on device") && !strings.Contains(stderr, "Disk quota exceeded") {
		t.Errorf("the sandbox was not told its disk is full: %q", stderr)
	}
	d := inspectDisk(t, e, "shell-proj")
	if d.Method != wantMethod || d.LimitBytes != 64<<20 || d.LimitInodes != 4096 || d.UsedBytes == 0 {
		t.Errorf("inspect shows the disk limit as %+v, want %s 64m and 4096 inodes, in use", d, wantMethod)
	}
	// The workspace is the user's folder: not limited.
	e.ok(ws, "run", "shell", "-c", "dd if=/dev/zero of=big bs=1M count=100 2>/dev/null && rm big")
	// Stop and start: the files made are there, and still nothing more fits.
	e.ok("", "stop", "shell-proj")
	r := e.run(ws, "run", "shell", "-c", "ls /tmp | wc -l; : > /tmp/more && echo wrote-more; true")
	if r.code != 0 || strings.Contains(r.stdout, "wrote-more") {
		t.Errorf("after stop and start: %s", r)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(strings.Split(r.stdout, "\n")[0])); int64(n) < files {
		t.Errorf("after stop and start /tmp holds %d files, %d were made", n, files)
	}
	e.ok("", "stop", "shell-proj")
	if m := mountsUnder(t, e.phome+"/sandboxes"); len(m) != 0 {
		t.Errorf("a stopped sandbox left mounts: %v", m)
	}
	e.ok("", "rm", "-f", "shell-proj")
	if m := mountsUnder(t, e.phome+"/sandboxes"); len(m) != 0 {
		t.Errorf("rm left mounts: %v", m)
	}
	if out, _ := exec.Command("losetup", "-a").Output(); strings.Contains(string(out), e.phome) {
		t.Errorf("rm left loop devices: %s", out)
	}
	if dirs := e.sandboxDirs(); len(dirs) != 0 {
		t.Errorf("rm left %v", dirs)
	}
}

// As root on a filesystem without project quotas, --disk gives the sandbox a filesystem image of
// its own: bytes and inodes are limited, the host's filesystem is not touched beyond it.
func TestDiskLimitImage(t *testing.T) {
	e := newEnv(t, asRoot)
	if out := e.ok("", "doctor", "--json"); !strings.Contains(out, "per-sandbox disk limit (--disk), native backend") {
		t.Fatalf("doctor says nothing about disk limits:\n%s", out)
	}
	method := "filesystem-image"
	if quotasOn(t, e.dir) {
		method = "project-quota"
	}
	checkDiskLimit(t, e, method)
	// Without --disk: no limit here, and inspect says why.
	ws := e.workspace("free")
	e.ok(ws, "run", "shell", "-c", "true")
	if d := inspectDisk(t, e, "shell-free"); method == "filesystem-image" && (d.Method != "" || !strings.Contains(d.Reason, "project quotas")) {
		t.Errorf("without --disk inspect shows %+v", d)
	}
	// A change of an image's size is refused in one line, and the sandbox stays as it was.
	ws = e.workspace("img")
	e.ok(ws, "run", "--disk", "32m", "shell", "-c", "true")
	r := e.run(ws, "run", "--recreate", "--disk", "48m", "shell", "-c", "true")
	if method == "filesystem-image" && (r.code == 0 || len(strings.Split(strings.TrimSpace(r.stderr), "\n")) != 1 || !strings.Contains(r.stderr, "--disk 48m")) {
		t.Errorf("resizing an image: %s", r)
	}
	if d := inspectDisk(t, e, "shell-img"); d.LimitBytes != 32<<20 {
		t.Errorf("after a refused change the limit is %+v", d)
	}
	// The config file's disk key is the default of new sandboxes.
	cfg := filepath.Join(e.dir, "config.toml")
	e.writeFile(cfg, "disk = \"40m,inodes=2k\"\n")
	e.extra = append(e.extra, "PADDOCK_CONFIG="+cfg)
	ws = e.workspace("cfg")
	e.ok(ws, "run", "shell", "-c", "true")
	if d := inspectDisk(t, e, "shell-cfg"); d.LimitBytes != 40<<20 || d.LimitInodes != 2000 {
		t.Errorf("with disk = 40m,inodes=2k in the config, inspect shows %+v", d)
	}
}

// quotasOn reports whether the filesystem holding dir has project quotas.
func quotasOn(t *testing.T, dir string) bool {
	out, _ := exec.Command("findmnt", "-n", "-o", "OPTIONS", "--target", dir).Output()
	return strings.Contains(string(out), "prjquota") || strings.Contains(string(out), "pquota")
}

// With PADDOCK_HOME on a filesystem with project quotas (XFS mounted prjquota; ext4 made with
// the project and quota features, mounted prjquota), a sandbox gets the default limit with no
// flag, and --disk is a project quota: the sandbox is told its quota is exceeded.
func TestDiskLimitQuota(t *testing.T) {
	requireRoot(t)
	for _, fs := range []struct{ name, mkfs string }{
		{"xfs", "mkfs.xfs -q -f"},
		{"ext4", "mkfs.ext4 -q -F -O quota,project"},
	} {
		t.Run(fs.name, func(t *testing.T) {
			mkfs := strings.Fields(fs.mkfs)
			if _, err := exec.LookPath(mkfs[0]); err != nil {
				// scripts/test.sh installs xfsprogs, and the VM lane's image has it.
				t.Skipf("no %s here", mkfs[0])
			}
			e := newEnv(t, asRoot)
			img := filepath.Join(e.dir, "fs.img")
			mnt := e.mkdir(filepath.Join(e.dir, "fs"))
			if out, err := exec.Command("truncate", "-s", "512M", img).CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if out, err := exec.Command(mkfs[0], append(mkfs[1:], img)...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s", fs.mkfs, err, out)
			}
			if out, err := exec.Command("mount", "-o", "loop,prjquota", img, mnt).CombinedOutput(); err != nil {
				dmesg, _ := exec.Command("dmesg").Output()
				if d := string(dmesg); strings.Contains(d, "quota support not available") || strings.Contains(d, "not built with CONFIG_QUOTA") {
					// A kernel built without quotas: there is nothing to limit with here (the VM
					// lane's Debian kernel has them).
					t.Skipf("this kernel has no %s quota support: %s", fs.name, out)
				}
				t.Fatalf("mounting a %s image with project quotas: %v: %s", fs.name, err, out)
			}
			t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
			e.phome = filepath.Join(mnt, "paddock-home")
			checkDiskLimit(t, e, "project-quota")
			ws := e.workspace("dflt")
			e.ok(ws, "run", "shell", "-c", "true")
			if d := inspectDisk(t, e, "shell-dflt"); d.Method != "project-quota" || d.LimitBytes != 20<<30 {
				t.Errorf("the default limit with project quotas: %+v", d)
			}
			// A limit changes with --recreate, and applies to the files made before it.
			r := e.run(ws, "run", "--recreate", "--disk", "32m", "shell", "-c", "dd if=/dev/zero of=/root/big bs=1M count=64 2>&1 | head -1")
			// (ext4 says the quota is exceeded; XFS reports a project quota as a full disk.)
			if r.code != 0 || !strings.Contains(r.stdout, "quota exceeded") && !strings.Contains(r.stdout, "No space left on device") {
				t.Errorf("after --recreate --disk 32m: %s", r)
			}
		})
	}
}

// Where the disk limit cannot be enforced (a rootless sandbox, the Docker backend), --disk is
// refused in one line, no sandbox is made, doctor says why and inspect of a sandbox made without
// it says it is not limited.
func TestDiskLimitRefused(t *testing.T) {
	check := func(t *testing.T, e *env, pre []string, doctorSays string) {
		ws := e.workspace("proj")
		r := e.run(ws, hwArgs(pre, "run", "--disk", "1g", "shell", "-c", "true")...)
		if r.code == 0 || len(strings.Split(strings.TrimSpace(r.stderr), "\n")) != 1 || !strings.Contains(r.stderr, "--disk: ") {
			t.Fatalf("--disk: %s", r)
		}
		if dirs := e.sandboxDirs(); len(dirs) != 0 {
			t.Fatalf("a refused --disk left sandboxes %v", dirs)
		}
		if out := e.run("", "doctor", "--json").stdout; !strings.Contains(out, doctorSays) {
			t.Errorf("doctor does not say %q:\n%s", doctorSays, out)
		}
		e.ok(ws, hwArgs(pre, "run", "shell", "-c", "true")...)
		if d := inspectDisk(t, e, "shell-proj"); d.Method != "" || d.Reason == "" {
			t.Errorf("inspect of an unlimited sandbox: %+v", d)
		}
		r = e.run(ws, hwArgs(pre, "run", "--recreate", "--disk", "1g", "shell", "-c", "true")...)
		if r.code == 0 || len(strings.Split(strings.TrimSpace(r.stderr), "\n")) != 1 {
			t.Errorf("adding --disk with --recreate: %s", r)
		}
	}
	t.Run("rootless", func(t *testing.T) {
		check(t, newEnv(t, asRootless), nil, "rootless sandbox's disk use cannot be limited")
	})
	t.Run("docker", func(t *testing.T) {
		e, _ := dockerEnv(t)
		check(t, e, []string{"--backend", "docker"}, "per-sandbox disk limit (--disk), Docker backend")
	})
	t.Run("bad input", func(t *testing.T) {
		e := newEnv(t, asRoot)
		for _, bad := range []string{"lots", "1k", "1g,inodes=x", "1g,files=3", "64m,inodes=10"} {
			r := e.run(e.workspace("proj"), "run", "--disk", bad, "shell", "-c", "true")
			if r.code == 0 || len(strings.Split(strings.TrimSpace(r.stderr), "\n")) != 1 || !strings.Contains(r.stderr, "--disk") {
				t.Errorf("--disk %s: %s", bad, r)
			}
		}
	})
}

// An OCI template's sandbox: --disk limits its root's writable layer (where its users write
// everything outside the workspace), also where a non-root USER writes.
func TestDiskLimitOCI(t *testing.T) {
	reg := imagetest.NewRegistry(t)
	ref := reg.Push(t, "test/img:1", busyboxImage(t))
	e := newEnv(t, asRoot)
	ws := e.workspace("proj")
	r := e.run(ws, "run", "-t", ref, "--disk", "64m", "shell", "-c", "dd if=/dev/zero of=/tmp/big bs=1M count=100 2>&1; stat -c 'bytes %s' /tmp/big; id -un")
	var bytes int64
	for _, line := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "bytes "); ok {
			bytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if r.code != 0 || !strings.Contains(r.stdout, "agent") || bytes == 0 || bytes > 64<<20 ||
		!(strings.Contains(r.stdout, "No space left") || strings.Contains(r.stdout, "quota exceeded")) {
		t.Fatalf("filling an OCI sandbox with --disk 64m: %s", r)
	}
	e.ok("", "rm", "-f", "shell-proj")
	if m := mountsUnder(t, e.phome+"/sandboxes"); len(m) != 0 {
		t.Errorf("rm left mounts: %v", m)
	}
}
