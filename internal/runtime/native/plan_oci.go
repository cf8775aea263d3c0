package native

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paddockhq/paddock/internal/boxinit"
	"github.com/paddockhq/paddock/internal/runtime"
)

// IsOCI reports whether a sandbox's root is made of an OCI template's layers.
func IsOCI(sb *runtime.Sandbox) bool { return sb.Spec.Image != nil }

// ociPlan builds the mount plan of a sandbox made from an OCI template, applied inside its
// overlay root: /etc/hostname and /etc/hosts where the image has them, the kernel folders as the
// host template has them, and the workspaces, volumes and agent mounts. Everything else (home,
// /tmp, /var, what apt-get installs) lives in the overlay's persistent upper folder.
func ociPlan(sb *runtime.Sandbox) []boxinit.Op {
	l := newLayout(sb.Dir)
	var ops []boxinit.Op
	for _, f := range []string{"hostname", "hosts"} {
		// /etc/hosts also where the image has none (Debian's minbase): the sandbox's own name
		// must resolve (sudo looks it up).
		if ImageHas(sb.Spec.Image, "/etc/"+f) || (f == "hosts" && imageHasDir(sb.Spec.Image, "/etc")) {
			ops = append(ops, fileOp(l.etc(f), "/etc/"+f))
		}
	}
	ops = append(append(ops, kernelOps()...), bootIDOp(l))
	ops = append(ops, egressOps(sb)...)
	return append(ops, mountOps(sb)...)
}

// ImageHas reports whether the template's file system has a file at p (an absolute path
// inside), looking at its layers from the top: a whiteout there means it was deleted. Symlinked
// folders are followed only within one layer.
func ImageHas(img *runtime.Image, p string) bool {
	if img == nil {
		return false
	}
	rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
	for i := len(img.LayerDirs) - 1; i >= 0; i-- {
		st, err := os.Lstat(filepath.Join(img.LayerDirs[i], rel))
		if err != nil {
			continue
		}
		if st.Mode()&os.ModeCharDevice != 0 {
			return false // a whiteout
		}
		if st.Mode()&os.ModeSymlink != 0 {
			st, err = os.Stat(filepath.Join(img.LayerDirs[i], rel))
			if err != nil {
				// An absolute symlink resolves inside the sandbox: count it.
				return true
			}
		}
		return !st.IsDir()
	}
	return false
}

// ociEnv is the environment every process in an OCI-template sandbox starts with: the image's,
// then paddock's (PATH and LANG only where the image sets none), then the sandbox's -e.
func ociEnv(sb *runtime.Sandbox) []string {
	env := runtime.ImageEnv(sb.Spec.Image.Env)
	env = append(env, "HOME="+HomeDir, "USER=root", "LOGNAME=root", "HOSTNAME="+sb.Spec.Hostname,
		"PADDOCK_SANDBOX="+sb.Name, "container=paddock")
	// The sandbox's home is the image's: the host's git identity comes through the environment.
	env = append(env, runtime.GitEnv(sb.Spec)...)
	return append(append(runtime.WithAgentEnv(sb.Spec, env), egressEnv(sb)...), sb.Spec.Env...)
}

// imageHasDir reports whether the template has a real folder at p (not a symlink).
func imageHasDir(img *runtime.Image, p string) bool {
	rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
	for i := len(img.LayerDirs) - 1; i >= 0; i-- {
		if st, err := os.Lstat(filepath.Join(img.LayerDirs[i], rel)); err == nil {
			return st.IsDir()
		}
	}
	return false
}

// setuidReason says why an OCI sandbox's processes run without no_new_privs, or "" when they
// keep it: an image with setuid-root programs (sudo for the non-root USER of Docker's sandbox
// templates, su, passwd) needs them to work. The host template always keeps no_new_privs.
func setuidReason(sb *runtime.Sandbox) string {
	img := sb.Spec.Image
	if img == nil {
		return ""
	}
	var files []string
	n := 0
	for _, d := range img.LayerDirs {
		var info struct {
			SetuidRoot      int      `json:"setuid_root"`
			SetuidRootFiles []string `json:"setuid_root_files"`
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(d), "layer.json"))
		if err != nil || json.Unmarshal(b, &info) != nil {
			continue
		}
		n += info.SetuidRoot
		files = append(files, info.SetuidRootFiles...)
	}
	if n == 0 {
		return ""
	}
	slices.Sort(files)
	files = slices.Compact(files)
	if len(files) > 3 {
		files = append(files[:3], "…")
	}
	who := "root"
	if u := img.User; u != "" && u != "root" && u != "0" && !strings.HasPrefix(u, "0:") && !strings.HasPrefix(u, "root:") {
		who = "user " + u
	}
	return fmt.Sprintf("the image has %d setuid-root programs (%s) that must work for its %s; seccomp, Landlock and the capability bounding set still hold",
		n, strings.Join(files, ", "), who)
}
