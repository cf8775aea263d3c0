// Package image turns OCI images into templates: it pulls them from any registry (or imports
// them from a `docker save` tarball, an OCI layout, a rootfs tarball or the local Docker engine)
// and unpacks each layer once into a shared, read-only, content-addressed cache under
// PADDOCK_HOME/images, laid out for overlayfs.
//
// # Using a template in the engine
//
//	st, err := image.Open(home)                                  // home: store.DefaultHome()
//	img, err := st.Ensure(ctx, "debian:bookworm", image.PullMissing, os.Stderr)
//	// img.Ref       "index.docker.io/library/debian:bookworm"
//	// img.Digest    "sha256:..." (record it in the sandbox, show it in inspect)
//	// img.Config    Env, User, WorkingDir, Entrypoint, Cmd
//	// img.LayerDirs [".../layers/<flavour>/<diffID>/fs", ...], lowest first
//
// Open picks the flavour of the calling process: as root, files are owned by host ids shifted by
// 1<<30 (image uid 0 is host 1073741824), matching root-mode sandboxes; as an ordinary user they
// are unpacked in a user namespace mapped like rootless sandboxes (0 is the user, 1..65535 its
// /etc/subuid range), or with a single mapping when there is none (Flavour.Squash: every file
// belongs to root). Ensure(PullNever) and Get never touch the network.
//
// The sandbox's root is an overlay of the layers under a per-sandbox upper folder:
//
//	lowerdir := img.LowerDir() // top layer first: ".../<top>/fs:.../<base>/fs" (":" "," "\" escaped)
//	// root mode, mounted by real root on the host side (opaque folders carry trusted.overlay.opaque):
//	unix.Mount("overlay", root, "overlay", 0, "lowerdir="+lowerdir+",upperdir="+upper+",workdir="+work)
//	// rootless, mounted inside the sandbox's user namespace (Linux >= 5.11; opaque folders carry
//	// user.overlay.opaque, which only the userxattr option reads):
//	unix.Mount("overlay", root, "overlay", 0, "userxattr,lowerdir="+lowerdir+",upperdir="+upper+",workdir="+work)
//
// upper and work must be on one filesystem and owned by the sandbox's root (host 1<<30 in root
// mode, the user rootless). Root-mode layers carry both xattrs, so they also work when mounted
// inside the sandbox's user namespace with userxattr. Whiteouts are 0/0 character devices (both
// modes). Mount options are limited to a page: for images with many layers, or long paths, use
// fsopen("overlay") and one fsconfig(FSCONFIG_SET_STRING, "lowerdir+", dir) per layer, top first
// (Linux >= 6.8), with img.LayerDirs in reverse order.
//
// Layers are never written by overlayfs; remove a template with Remove (refused while the
// InUse hook names a sandbox that uses it) and unused layers with Prune.
//
// # Unpacking rules
//
// Entries are written relative to descriptors of their parent folders, opened one component
// at a time with O_NOFOLLOW, so no symlink a layer plants can redirect a write. Names that climb
// out of the layer ("../x") and hard links to outside it are refused (the layer fails, nothing
// is kept); absolute names are taken relative to the layer root; symlinks are kept as they are
// (resolved only inside the sandbox); entries under a symlink, hard links to missing files or
// folders, device nodes and unknown entry types are skipped and counted in layer.json;
// setuid/setgid bits are kept only on files owned by root in the image (sudo, su, passwd) —
// no_new_privs in the sandbox neuters them anyway, and the cache folder is 0700; only user.*
// xattrs are kept (never user.overlay.*, security.capability, trusted.* or ACLs); owners above
// the mapped range become nobody (65534). A layer is unpacked into a temporary folder, checked
// against its diffID, synced and renamed into place: it is there complete or not at all.
package image
