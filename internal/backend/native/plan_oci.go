package native

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/boxinit"
)

// IsOCI reports whether a sandbox's root is made of an OCI template's layers.
func IsOCI(sb *backend.Sandbox) bool { return sb.Spec.Image != nil }

// ociPlan builds the mount plan of a sandbox made from an OCI template, applied inside its
// overlay root: /etc/hostname and /etc/hosts where the image has them, the kernel folders as the
// host template has them, and the workspaces, volumes and agent mounts. Everything else (home,
// /tmp, /var, what apt-get installs) lives in the overlay's persistent upper folder.
func ociPlan(sb *backend.Sandbox) []boxinit.Op {
	l := newLayout(sb.Dir)
	var ops []boxinit.Op
	for _, f := range []string{"hostname", "hosts"} {
		// /etc/hosts also where the image has none (Debian's minbase): the sandbox's own name
		// must resolve (sudo looks it up).
		if sb.Spec.Image.Has("/etc/"+f) || (f == "hosts" && imageHasDir(sb.Spec.Image, "/etc")) {
			ops = append(ops, fileOp(l.etc(f), "/etc/"+f))
		}
	}
	ops = append(append(ops, kernelOps()...), bootIDOp(l))
	ops = append(ops, egressOps(sb)...)
	return append(ops, mountOps(sb)...)
}

// ociEnv is the environment every process in an OCI-template sandbox starts with: the image's,
// then paddock's (PATH and LANG only where the image sets none), then the sandbox's -e.
func ociEnv(sb *backend.Sandbox) []string {
	env := backend.ImageEnv(sb.Spec.Image.Env)
	env = append(env, "HOME="+HomeDir, "USER=root", "LOGNAME=root", "HOSTNAME="+sb.Spec.Hostname,
		"PADDOCK_SANDBOX="+sb.Name, "container=paddock")
	// The sandbox's home is the image's: the host's git identity comes through the environment.
	env = append(env, backend.GitEnv(sb.Spec)...)
	return append(append(backend.WithAgentEnv(sb.Spec, env), egressEnv(sb)...), sb.Spec.Env...)
}

// imageHasDir reports whether the template has a real folder at p (not a symlink).
func imageHasDir(img *backend.Image, p string) bool {
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
func setuidReason(sb *backend.Sandbox) string {
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
