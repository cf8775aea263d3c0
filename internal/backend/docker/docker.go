// Package docker is the sandbox backend on a Docker engine, driven through the Engine API with
// the official Go client: one container per sandbox (no network of its own), a named volume for
// its home, the workspace and volumes bind-mounted at their paths, exec through the API.
package docker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/paddockhq/paddock/internal/backend/docker/dockername"
	"github.com/paddockhq/paddock/internal/backend/docker/egresshost"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/hostpath"
)

// Error categories, checked with errors.Is.
var (
	ErrNoEngine     = errors.New("no Docker engine")
	ErrEngineTooOld = errors.New("Docker engine too old")
	ErrNoImage      = errors.New("image not found")
	ErrEngineDenied = errors.New("no access to the Docker engine")
	ErrUnreachable  = errors.New("registry unreachable")
)

// unreachable reports whether a pull failed for want of a way to the registry (not for want of
// the image).
func unreachable(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"dial tcp", "no such host", "i/o timeout", "connection refused", "network is unreachable",
		"tls handshake", "timeout exceeded", "server misbehaving", "temporary failure in name resolution", "connection reset"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// MinAPIVersion is the oldest Engine API paddock drives (Docker 19.03).
const MinAPIVersion = "1.40"

// HomeDir is the sandbox's home inside the container, a named volume.
const HomeDir = dockername.HomeDir

// identityFile keeps the git identity of the last start in the sandbox's state folder.
const identityFile = "git-identity.json"

// DockerSocketTarget is where --mount-docker-socket shows the engine's socket.
const DockerSocketTarget = "/var/run/docker.sock"

// Labels paddock puts on its containers and volumes.
const (
	labelID     = "dev.paddock.id"
	labelName   = "dev.paddock.name"
	labelDir    = "dev.paddock.dir"
	labelConfig = "dev.paddock.config"
	labelImage  = "dev.paddock.template"
)

// idle is the container's main process: it does nothing until the container stops. docker-init
// (HostConfig.Init) is PID 1, reaps orphans and forwards the stop signal.
var idle = []string{"/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"}

// Backend runs sandboxes as containers of a Docker engine.
type Backend struct {
	dockername.NoDiskLimits

	// DefaultImage is the image of sandboxes made from the host template, which has no Docker
	// equivalent (set from PADDOCK_DOCKER_IMAGE or the config file).
	DefaultImage string

	// EngineBinary is paddock's Linux binary (the egress proxy's host side and relay); "" for
	// PADDOCK_LINUX_BINARY, else the paddock beside this executable.
	EngineBinary string
	// ServerBinary serves the proxy's host side in the link mode; "" for this executable.
	ServerBinary string

	mu      sync.Mutex
	cli     *client.Client
	err     error
	ver     string // negotiated API version
	userns  bool   // the engine remaps users (dockerd --userns-remap, or rootless)
	sysinfo *system.Info
	mode    string // how containers reach the proxy (egress.go), decided at the first start
}

// DefaultImage is the image of host-template sandboxes unless configured otherwise.
const DefaultImage = dockername.DefaultImage

// New returns the Docker backend; it connects to the engine (DOCKER_HOST, else the platform's
// default socket) on first use.
func New() *Backend { return &Backend{DefaultImage: DefaultImage} }

// Name implements backend.Backend.
func (*Backend) Name() string { return "docker" }

// Engine describes the engine found.
type Engine = backend.Engine

// client connects once (with API version negotiation) and checks the engine's version.
func (b *Backend) client(ctx context.Context) (*client.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cli != nil || b.err != nil {
		return b.cli, b.err
	}
	c, err := newClient()
	if err != nil {
		b.err = fmt.Errorf("%w: %v", ErrNoEngine, err)
		return nil, b.err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ping, err := c.Ping(pctx)
	if err != nil {
		c.Close()
		return nil, noEngine(c.DaemonHost(), err)
	}
	if ping.APIVersion != "" && versionLess(ping.APIVersion, MinAPIVersion) {
		c.Close()
		b.err = fmt.Errorf("%w: the engine at %s speaks Engine API %s, paddock needs %s (Docker 19.03) or newer; update Docker",
			ErrEngineTooOld, c.DaemonHost(), ping.APIVersion, MinAPIVersion)
		return nil, b.err
	}
	c.NegotiateAPIVersionPing(ping)
	b.cli, b.ver = c, c.ClientVersion()
	return c, nil
}

func noEngine(host string, err error) error {
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || strings.Contains(err.Error(), "permission denied") {
		return fmt.Errorf("%w: permission denied on the Docker engine's socket at %s: add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in again), or use --backend native",
			ErrEngineDenied, host)
	}
	return fmt.Errorf("%w at %s (%s): start Docker (Docker Desktop, Colima, OrbStack or dockerd), or set DOCKER_HOST, or use --backend native",
		ErrNoEngine, host, firstLine(err))
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// versionLess compares dotted API versions ("1.41" < "1.43").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// Engine reports the engine this backend talks to.
func (b *Backend) Engine(ctx context.Context) (Engine, error) {
	c, err := b.client(ctx)
	if err != nil {
		return Engine{}, err
	}
	v, err := c.ServerVersion(ctx)
	if err != nil {
		return Engine{}, noEngine(c.DaemonHost(), err)
	}
	e := Engine{Host: c.DaemonHost(), Version: v.Version, APIVersion: v.APIVersion, MinAPIVersion: v.MinAPIVersion, NegotiatedAPI: c.ClientVersion(),
		OS: v.Os, Arch: v.Arch, Name: v.Platform.Name}
	if info, err := c.Info(ctx); err == nil {
		e.CgroupVersion, e.NCPU, e.MemTotal, e.System = info.CgroupVersion, info.NCPU, info.MemTotal, info.OperatingSystem
	}
	if e.Name == "" {
		e.Name = "Docker Engine"
	}
	if os.Getenv("DOCKER_HOST") == "" {
		if name := currentContext(); name != "default" {
			e.Context = name
		}
	}
	if e.Egress, err = b.egressMode(ctx, c); err != nil {
		return Engine{}, err
	}
	return e, nil
}

// ContainerName is the sandbox's container.
func ContainerName(sb *backend.Sandbox) string { return dockername.ContainerName(sb) }

// HomeVolume is the named volume of the sandbox's home.
func HomeVolume(sb *backend.Sandbox) string { return dockername.HomeVolume(sb) }

// stateImage is where the container's own changes are kept while it is re-created.
func stateImage(sb *backend.Sandbox) string { return "paddock-state/" + sb.ID[:12] + ":latest" }

// imageRef is the image a sandbox's container is made from.
func (b *Backend) imageRef(sp backend.Spec) string {
	if sp.Image != nil && sp.Image.Ref != "" {
		return sp.Image.Ref
	}
	if sp.Template != "" && sp.Template != "host" {
		return sp.Template
	}
	if v := os.Getenv("PADDOCK_DOCKER_IMAGE"); v != "" {
		return v
	}
	return b.DefaultImage
}

// ResolveImage finds ref in the engine, pulling it through the engine as policy says ("always",
// "missing" or "never"), and describes it.
func (b *Backend) ResolveImage(ctx context.Context, ref, policy string, progress io.Writer) (*backend.Image, error) {
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	defaulted := ref == "" || ref == "host"
	if defaulted {
		ref = b.imageRef(backend.Spec{})
	}
	ii, err := c.ImageInspect(ctx, ref)
	switch {
	case err == nil && policy != "always":
	case err != nil && !client.IsErrNotFound(err):
		return nil, noEngine(c.DaemonHost(), err)
	case policy == "never":
		return nil, fmt.Errorf("%w: image %s is not in the Docker engine and --pull never forbids pulling it; `docker pull %s` or `docker load` it first", ErrNoImage, ref, ref)
	default:
		if perr := b.pull(ctx, c, ref, progress); perr != nil {
			if err == nil { // --pull always of an image the engine has: use it
				fmt.Fprintf(progressOr(progress), "paddock: could not pull %s (%v); using the engine's copy\n", ref, firstLine(perr))
				break
			}
			hint := "pick another template with -t"
			if defaulted {
				hint = "set another image for the host template (PADDOCK_DOCKER_IMAGE=IMAGE, or docker_image = \"IMAGE\" in the config file)"
			}
			if unreachable(perr) {
				return nil, fmt.Errorf("%w: image %s is not in the Docker engine, and the engine cannot reach its registry (%v): check the engine's network or registry mirror, `docker load` the image, or %s",
					ErrUnreachable, ref, firstLine(perr), hint)
			}
			return nil, fmt.Errorf("%w: image %s is not in the Docker engine and pulling it failed (%v); `docker pull %s` or `docker load` it, or %s",
				ErrNoImage, ref, firstLine(perr), ref, hint)
		}
		if ii, err = c.ImageInspect(ctx, ref); err != nil {
			return nil, fmt.Errorf("%w: image %s: %v", ErrNoImage, ref, err)
		}
	}
	im := &backend.Image{Ref: ref, Digest: ii.ID}
	if ii.Config != nil {
		im.User, im.Env, im.WorkingDir = ii.Config.User, ii.Config.Env, ii.Config.WorkingDir
	}
	return im, nil
}

func progressOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func (b *Backend) pull(ctx context.Context, c *client.Client, ref string, progress io.Writer) error {
	fmt.Fprintf(progressOr(progress), "paddock: pulling %s through the Docker engine\n", ref)
	rc, err := c.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Error *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
	}
}

// inspect returns the sandbox's container, or ok=false when there is none.
func (b *Backend) inspect(ctx context.Context, c *client.Client, sb *backend.Sandbox) (container.InspectResponse, bool, error) {
	ci, err := c.ContainerInspect(ctx, ContainerName(sb))
	if client.IsErrNotFound(err) {
		return ci, false, nil
	}
	if err != nil {
		return ci, false, noEngine(c.DaemonHost(), err)
	}
	if ci.Config == nil || ci.Config.Labels[labelID] != sb.ID {
		return ci, false, fmt.Errorf("a container named %s exists that paddock did not make; rename or remove it", ContainerName(sb))
	}
	return ci, true, nil
}

// configHash covers what a container cannot change once made: its image, mounts, hostname and
// hidden paths. Limits are updated in place; the environment is given to each exec.
func (b *Backend) configHash(sb *backend.Sandbox) string {
	h := sha256.New()
	json.NewEncoder(h).Encode(struct {
		Image    string
		Hostname string
		Mounts   []backend.Mount
		Hide     []string
		Workdir  string
		Egress   []string
		V        int
	}{b.imageRef(sb.Spec), sb.Spec.Hostname, described(sb.Spec.Mounts), sb.Spec.Hide, sb.Spec.Workdir, b.mainProcess(sb), 3})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// described is mounts as the user described them: a recorded identity does not change the
// container.
func described(ms []backend.Mount) []backend.Mount {
	out := make([]backend.Mount, len(ms))
	for i, m := range ms {
		m.ID, m.Why = hostpath.ID{}, ""
		out[i] = m
	}
	return out
}

// checkSources refuses a folder the user named that is no longer the one recorded (replaced, or
// a symlink on the way), as late as paddock can: the engine mounts it by its path.
func checkSources(sb *backend.Sandbox) error {
	for _, m := range sb.Spec.Mounts {
		if !m.Recorded() || m.ID.Zero() {
			continue
		}
		f, err := hostpath.OpenSame(m.Source, m.ID)
		if errors.Is(err, hostpath.ErrChanged) || errors.Is(err, hostpath.ErrSymlink) {
			return fmt.Errorf("%w: %s is no longer the folder sandbox %s was created with (replaced, or a symlink on the way)",
				backend.ErrStartFailed, m.Source, sb.Name)
		}
		if err == nil {
			f.Close()
		}
	}
	return nil
}

// Start implements backend.Backend: it creates the container on first start (or when its
// mounts or image changed, keeping its own changes unless the image changed), applies the
// limits, and starts it.
func (b *Backend) Start(ctx context.Context, sb *backend.Sandbox) error {
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(sb.Dir, 0o700); err != nil {
		return err
	}
	// The host's git identity as it is at this start, for every exec until the next.
	id, _ := json.Marshal([2]string{sb.Spec.GitName, sb.Spec.GitEmail})
	if err := os.WriteFile(filepath.Join(sb.Dir, identityFile), id, 0o600); err != nil {
		return err
	}
	b.recordEngine(ctx, c, sb)
	ci, ok, err := b.inspect(ctx, c, sb)
	if err != nil {
		return err
	}
	running := ok && ci.State != nil && ci.State.Running
	egressUp := func() error { return nil }
	if sb.Spec.Egress != nil {
		// The proxy's host side: a container with egress never gets its relay without it.
		var have *container.InspectResponse
		if running {
			have = &ci
		}
		if egressUp, err = b.startEgress(ctx, c, sb, have); err != nil {
			return err
		}
	}
	if running {
		if err := egressUp(); err != nil {
			return err
		}
		return b.publishAll(ctx, sb)
	}
	if err := b.startContainer(ctx, c, sb, ci, ok, egressUp); err != nil {
		if sb.Spec.Egress != nil {
			c.ContainerStop(context.WithoutCancel(ctx), ContainerName(sb), container.StopOptions{})
			egressUp()
			egresshost.StopServer(sb.Dir)
		}
		return err
	}
	// Published ports: a host address in use fails the start, the container stopped again.
	if err := b.publishAll(ctx, sb); err != nil {
		bg := context.WithoutCancel(ctx)
		c.ContainerStop(bg, ContainerName(sb), container.StopOptions{})
		stopHost(sb.Dir)
		egresshost.StopServer(sb.Dir)
		return err
	}
	return nil
}

// startContainer (re-)creates the container when needed and starts it; with egress, it returns
// once the relay inside listens.
func (b *Backend) startContainer(ctx context.Context, c *client.Client, sb *backend.Sandbox, ci container.InspectResponse, ok bool, egressUp func() error) error {
	ref := b.imageRef(sb.Spec)
	from := ref
	if ok && ci.Config.Labels[labelConfig] != b.configHash(sb) {
		// Re-create: mounts or image changed. The container's own changes are kept (committed
		// to a private image) unless the image itself changed.
		if ci.Config.Labels[labelImage] == ref {
			if _, err := c.ContainerCommit(ctx, ci.ID, container.CommitOptions{Reference: stateImage(sb)}); err != nil {
				return fmt.Errorf("keeping sandbox %s's changes before re-creating it: %w", sb.Name, err)
			}
			from = stateImage(sb)
		}
		if err := c.ContainerRemove(ctx, ci.ID, container.RemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("removing the old container of sandbox %s: %w", sb.Name, err)
		}
		ok = false
	} else if !ok {
		if _, err := c.ImageInspect(ctx, stateImage(sb)); err == nil {
			from = stateImage(sb) // a re-create interrupted after the commit
		}
	}
	if !ok {
		if err := b.create(ctx, c, sb, ref, from); err != nil {
			return err
		}
		if from != ref {
			// The state image is now the new container's base; drop its tag (the layers stay
			// while the container uses them).
			c.ImageRemove(ctx, stateImage(sb), image.RemoveOptions{Force: true})
		}
	}
	// The limits as asked now (the defaults were applied when the container was made, so that
	// an unchanged request needs no call to the engine).
	applied := filepath.Join(sb.Dir, limitsFile)
	want, _ := json.Marshal(sb.Spec.Limits)
	if have, err := os.ReadFile(applied); !ok || err != nil || string(have) != string(want) {
		if err := b.applyLimits(ctx, c, sb); err != nil {
			return err
		}
		os.WriteFile(applied, want, 0o600)
	}
	if sb.Spec.Egress != nil && b.linkMode() {
		ci, err := c.ContainerInspect(ctx, ContainerName(sb))
		if err != nil {
			return noEngine(c.DaemonHost(), err)
		}
		if err := b.copyIn(ctx, c, sb, ci.ID); err != nil {
			return fmt.Errorf("%w: %v", backend.ErrStartFailed, err)
		}
	}
	if err := checkSources(sb); err != nil {
		return err
	}
	if err := c.ContainerStart(ctx, ContainerName(sb), container.StartOptions{}); err != nil {
		return fmt.Errorf("%w: %v", backend.ErrStartFailed, firstLine(err))
	}
	if err := egressUp(); err != nil {
		return err
	}
	return nil
}

// limitsFile records the limits last applied to the container.
const limitsFile = "limits-applied.json"

// mainProcess is the container's main process under docker-init: with egress, the relay that
// listens on 127.0.0.1:ProxyPort and forwards to the proxy's socket (it is listening within
// milliseconds of the start, and until then a connection is refused, never let through);
// without, a shell that idles.
//
// In the link mode the relay takes the host side's streams on its own socket instead.
func (b *Backend) mainProcess(sb *backend.Sandbox) []string {
	if sb.Spec.Egress == nil {
		return idle
	}
	addr := "127.0.0.1:" + strconv.Itoa(sb.Spec.Egress.ProxyPort)
	if b.linkMode() {
		return []string{egresshost.Binary, "__relay", "--link", addr, egresshost.LinkSocket}
	}
	return []string{egresshost.Binary, "__relay", addr, egresshost.SocketDir + "/" + egresshost.SocketName}
}

func (b *Backend) linkMode() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mode == modeLink
}

// limits are the sandbox's limits, with the same defaults as the native engine where none are
// asked for: 4096 processes, half the engine's memory, all its CPUs but one.
func (b *Backend) limits(ctx context.Context, c *client.Client, sb *backend.Sandbox) container.Resources {
	l := sb.Spec.Limits
	allCPUs := l.CPUs == backend.AllCPUs
	if allCPUs {
		l.CPUs = 0
	}
	if !allCPUs && l.CPUs == 0 || l.MemoryBytes == 0 {
		if info, err := b.info(ctx, c); err == nil {
			if l.CPUs == 0 && !allCPUs {
				l.CPUs = float64(max(info.NCPU-1, 1))
			}
			if l.MemoryBytes == 0 {
				l.MemoryBytes = info.MemTotal / 2 &^ (1<<20 - 1)
			}
		}
	}
	if l.Pids == 0 {
		l.Pids = DefaultPids
	}
	r := container.Resources{NanoCPUs: int64(l.CPUs * 1e9), Memory: l.MemoryBytes, PidsLimit: &l.Pids}
	if l.MemoryBytes > 0 {
		r.MemorySwap = l.MemoryBytes // no swap beyond the limit
	}
	return r
}

// DefaultPids is the process limit of a sandbox when none is asked for (as the native engine).
const DefaultPids = backend.DefaultPids

func (b *Backend) applyLimits(ctx context.Context, c *client.Client, sb *backend.Sandbox) error {
	r := b.limits(ctx, c, sb)
	if _, err := c.ContainerUpdate(ctx, ContainerName(sb), container.UpdateConfig{Resources: r}); err != nil {
		return fmt.Errorf("%w: the Docker engine refused the limits (cpus %g, memory %d, pids %d): %v",
			backend.ErrStartFailed, float64(r.NanoCPUs)/1e9, r.Memory, *r.PidsLimit, firstLine(err))
	}
	return nil
}

func (b *Backend) create(ctx context.Context, c *client.Client, sb *backend.Sandbox, ref, from string) error {
	ii, err := c.ImageInspect(ctx, from)
	if client.IsErrNotFound(err) {
		return fmt.Errorf("%w: image %s of sandbox %s is not in the Docker engine; `docker pull %s` (or `docker load` it), or re-create the sandbox with another template",
			ErrNoImage, ref, sb.Name, ref)
	}
	if err != nil {
		return noEngine(c.DaemonHost(), err)
	}
	labels := map[string]string{labelID: sb.ID, labelName: sb.Name, labelDir: sb.Dir,
		labelConfig: b.configHash(sb), labelImage: ref}
	if _, err := c.VolumeCreate(ctx, volume.CreateOptions{Name: HomeVolume(sb), Labels: labels}); err != nil {
		return fmt.Errorf("creating the home volume of sandbox %s: %w", sb.Name, err)
	}
	// The home volume is the image user's home: /root, or a non-root USER's (Docker's sandbox
	// templates run as "agent"); the engine fills a new volume with what the image has there.
	home := HomeDir
	if ii.Config != nil {
		home = b.userHome(ctx, c, from, ii.Config.User)
	}
	if err := os.WriteFile(filepath.Join(sb.Dir, dockername.HomeFile), []byte(home+"\n"), 0o600); err != nil {
		return err
	}
	mounts := []mount.Mount{{Type: mount.TypeVolume, Source: HomeVolume(sb), Target: home}}
	ms := append([]backend.Mount{}, sb.Spec.Mounts...)
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(filepath.Clean(ms[i].Target), "/") < strings.Count(filepath.Clean(ms[j].Target), "/")
	})
	for _, m := range ms {
		if filepath.Clean(m.Target) == "/" {
			return fmt.Errorf("%w: the Docker backend cannot use / as the workspace; pick a project folder", backend.ErrUnsupported)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate}})
	}
	if sb.Spec.Egress != nil && !b.linkMode() {
		// The proxy's socket (its folder, read-only), paddock's binary (the relay, and ssh's
		// ProxyCommand) and the CA bundle, under /run/paddock.
		ro := &mount.BindOptions{Propagation: mount.PropagationRPrivate}
		mounts = append(mounts,
			mount.Mount{Type: mount.TypeBind, Source: egresshost.SockDir(sb.Dir), Target: egresshost.SocketDir, ReadOnly: true, BindOptions: ro},
			mount.Mount{Type: mount.TypeBind, Source: egresshost.BinaryCopy(sb.Dir), Target: egresshost.Binary, ReadOnly: true, BindOptions: ro},
			mount.Mount{Type: mount.TypeBind, Source: caBundle(sb), Target: caBundleTarget, ReadOnly: true, BindOptions: ro})
	}
	tmpfs := map[string]string{}
	for _, h := range sb.Spec.Hide {
		tmpfs[h] = "ro,size=4k,mode=000"
	}
	init := true
	cfg := &container.Config{
		Image: from, Hostname: sb.Spec.Hostname, Cmd: b.mainProcess(sb), Entrypoint: []string{},
		User: "0:0", WorkingDir: sb.Spec.Workdir, Labels: labels, StopSignal: "SIGTERM",
	}
	if ii.Config != nil {
		cfg.Env = ii.Config.Env
	}
	secopt := []string{"no-new-privileges"}
	if prof, err := seccompProfile(); err == nil {
		secopt = append(secopt, "seccomp="+prof)
	} else if runtime.GOOS == "linux" {
		return fmt.Errorf("%w: the seccomp profile of sandbox %s: %v", backend.ErrStartFailed, sb.Name, err)
	}
	hc := &container.HostConfig{
		NetworkMode: "none", Init: &init, Mounts: mounts, Tmpfs: tmpfs,
		Resources:   b.limits(ctx, c, sb),
		SecurityOpt: secopt,
		// Docker's default capabilities, less the ones a coding agent has no use for.
		CapDrop:       []string{"NET_RAW", "MKNOD", "AUDIT_WRITE", "SETFCAP", "NET_BIND_SERVICE", "SYS_CHROOT"},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig:     container.LogConfig{Type: "none"},
	}
	if _, err := c.ContainerCreate(ctx, cfg, hc, nil, nil, ContainerName(sb)); err != nil {
		return fmt.Errorf("%w: creating the container of sandbox %s: %v", backend.ErrStartFailed, sb.Name, firstLine(err))
	}
	return nil
}

// engineFile records, at each start, which engine runs the sandbox and whether it is on this
// host: exec and State read it instead of asking the engine.
const engineFile = "engine.json"

type engineRecord struct {
	Host  string `json:"host"`
	Local bool   `json:"local"`
}

func (b *Backend) recordEngine(ctx context.Context, c *client.Client, sb *backend.Sandbox) {
	local, err := b.engineLocal(ctx, c)
	if err != nil {
		return
	}
	rec, _ := json.Marshal(engineRecord{Host: c.DaemonHost(), Local: local})
	os.WriteFile(filepath.Join(sb.Dir, engineFile), rec, 0o600)
}

// recordedLocal reports whether the sandbox's engine, as recorded at its start, is on this host
// and is still the one paddock talks to. Unknown counts as elsewhere: the pids the engine
// reports would be another machine's.
func (b *Backend) recordedLocal(sb *backend.Sandbox, c *client.Client) bool {
	var rec engineRecord
	data, err := os.ReadFile(filepath.Join(sb.Dir, engineFile))
	if err != nil || json.Unmarshal(data, &rec) != nil {
		return false
	}
	return rec.Local && rec.Host == c.DaemonHost()
}

// Revive implements backend.Reviver: a running sandbox whose proxy host side has ended (killed,
// or the host restarted while the engine kept the container) gets it back.
func (b *Backend) Revive(ctx context.Context, sb *backend.Sandbox) error {
	if sb.Spec.Egress == nil || egresshost.Running(sb.Dir) && (len(sb.Spec.Ports) == 0 || answers(sb.Dir)) {
		return nil
	}
	// A stopped sandbox gets it when it starts; an engine that does not answer, the exec says so.
	c, err := b.client(ctx)
	if err != nil {
		return nil
	}
	if ci, ok, err := b.inspect(ctx, c, sb); err != nil || !ok || ci.State == nil || !ci.State.Running {
		return nil
	}
	return b.Start(ctx, sb)
}

// Stop implements backend.Backend.
func (b *Backend) Stop(ctx context.Context, sb *backend.Sandbox, grace time.Duration) error {
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	ci, ok, err := b.inspect(ctx, c, sb)
	if err != nil {
		return err
	}
	if ok && ci.State != nil && ci.State.Running {
		secs := int(grace.Round(time.Second) / time.Second)
		if err := c.ContainerStop(ctx, ci.ID, container.StopOptions{Timeout: &secs}); err != nil && !client.IsErrNotFound(err) {
			return fmt.Errorf("stopping sandbox %s: %w", sb.Name, err)
		}
	}
	stopHost(sb.Dir)
	egresshost.StopServer(sb.Dir)
	return nil
}

// State implements backend.Backend.
func (b *Backend) State(ctx context.Context, sb *backend.Sandbox) (backend.State, error) {
	c, err := b.client(ctx)
	if err != nil {
		return backend.State{Status: "unknown", ExitReason: err.Error()}, nil
	}
	ci, ok, err := b.inspect(ctx, c, sb)
	if err != nil {
		return backend.State{Status: "unknown", ExitReason: err.Error()}, nil
	}
	if !ok || ci.State == nil {
		return backend.State{Status: "stopped"}, nil
	}
	st := backend.State{Status: "stopped"}
	if t, err := time.Parse(time.RFC3339Nano, ci.State.StartedAt); err == nil && t.Year() > 1 {
		st.StartedAt = t
	}
	if t, err := time.Parse(time.RFC3339Nano, ci.State.FinishedAt); err == nil && t.Year() > 1 {
		st.FinishedAt = t
	}
	if ci.State.OOMKilled {
		st.OOMKills = 1
	}
	if ci.State.Running {
		st.Status, st.InitPID = "running", ci.State.Pid
		if !st.StartedAt.IsZero() {
			st.Uptime = time.Since(st.StartedAt)
		}
		if pids, ok := cgroupPids(ci.State.Pid); ok && b.recordedLocal(sb, c) {
			st.Pids = pids
		} else if top, err := c.ContainerTop(ctx, ci.ID, nil); err == nil {
			col := -1
			for i, t := range top.Titles {
				if t == "PID" {
					col = i
				}
			}
			for _, p := range top.Processes {
				if col >= 0 && col < len(p) {
					if pid, err := strconv.Atoi(p[col]); err == nil {
						st.Pids = append(st.Pids, pid)
					}
				}
			}
		}
	} else if ci.State.Error != "" {
		st.ExitReason = ci.State.Error
	}
	if hc := ci.HostConfig; hc != nil {
		en := &backend.Enforcement{Driver: "docker"}
		if hc.NanoCPUs > 0 {
			en.CPU, en.CPUs = true, float64(hc.NanoCPUs)/1e9
		}
		if hc.Memory > 0 {
			en.Memory, en.MemoryBytes = true, hc.Memory
		}
		if hc.PidsLimit != nil && *hc.PidsLimit > 0 {
			en.Pids, en.PidsMax, en.PidsMethod = true, *hc.PidsLimit, "cgroup"
		}
		st.Enforced = en
		caps := "Docker's default set"
		if len(hc.CapDrop) > 0 {
			caps += " without " + strings.Join(hc.CapDrop, ", ")
		}
		nnp := false
		for _, o := range hc.SecurityOpt {
			if o == "no-new-privileges" || o == "no-new-privileges:true" {
				nnp = true
			}
		}
		seccomp := true
		for _, o := range hc.SecurityOpt {
			if o == "seccomp=unconfined" || o == "seccomp:unconfined" {
				seccomp = false
			}
		}
		st.Protections = &backend.Protections{Seccomp: seccomp, NoNewPrivs: nnp, Capabilities: caps,
			UserNS:     b.userns,
			Namespaces: []string{"mnt", "pid", "ipc", "uts", "net (" + string(hc.NetworkMode) + ")", "cgroup"}}
	}
	return st, nil
}

// Remove implements backend.Backend: the container, its home volume and paddock's private
// state go; the workspace and every bind-mounted folder stay.
func (b *Backend) Remove(ctx context.Context, sb *backend.Sandbox) error {
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	ci, ok, err := b.inspect(ctx, c, sb)
	if err != nil {
		return err
	}
	if ok {
		if ci.State != nil && ci.State.Running {
			return fmt.Errorf("sandbox %s is running; stop it first", sb.Name)
		}
		if err := b.reclaim(ctx, c, sb, ci.Image); err != nil {
			return err
		}
		// Not RemoveVolumes: that would also take anonymous volumes only; named ones go below.
		if err := c.ContainerRemove(ctx, ci.ID, container.RemoveOptions{}); err != nil && !client.IsErrNotFound(err) {
			return fmt.Errorf("removing the container of sandbox %s: %w", sb.Name, err)
		}
	}
	vols, err := c.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labelID+"="+sb.ID))})
	if err == nil {
		for _, v := range vols.Volumes {
			if err := c.VolumeRemove(ctx, v.Name, true); err != nil && !client.IsErrNotFound(err) {
				return fmt.Errorf("removing volume %s of sandbox %s: %w", v.Name, sb.Name, err)
			}
		}
	}
	c.ImageRemove(ctx, stateImage(sb), image.RemoveOptions{})
	egresshost.StopServer(sb.Dir)
	return os.RemoveAll(sb.Dir)
}

// reclaim gives the caller back what the container's root made in the folders of the sandbox's
// private state that it had mounted (a branch sandbox's checkout): an ordinary user could not
// remove it otherwise. A container of the sandbox's image, with no network, changes the owners
// (never through a link: chown -h; only that folder, not what may be mounted below it).
func (b *Backend) reclaim(ctx context.Context, c *client.Client, sb *backend.Sandbox, img string) error {
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 || img == "" {
		return nil
	}
	var mounts []mount.Mount
	for i, m := range sb.Spec.Mounts {
		if rel, err := filepath.Rel(sb.Dir, m.Source); err == nil && filepath.IsLocal(rel) && !m.ReadOnly {
			mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: fmt.Sprintf("/reclaim/%d", i),
				BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate, NonRecursive: true}})
		}
	}
	if len(mounts) == 0 {
		return nil
	}
	no := false
	cr, err := c.ContainerCreate(ctx, &container.Config{Image: img, User: "0:0", Entrypoint: []string{},
		Cmd: []string{"chown", "-R", "-h", fmt.Sprintf("%d:%d", uid, gid), "/reclaim"}, NetworkDisabled: true},
		&container.HostConfig{NetworkMode: "none", Mounts: mounts, AutoRemove: false, Init: &no,
			LogConfig: container.LogConfig{Type: "none"}}, nil, nil, "")
	if err != nil {
		return fmt.Errorf("removing sandbox %s: giving its files back to you: %w", sb.Name, err)
	}
	defer c.ContainerRemove(context.WithoutCancel(ctx), cr.ID, container.RemoveOptions{Force: true})
	if err := c.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("removing sandbox %s: giving its files back to you: %w", sb.Name, err)
	}
	wait, errc := c.ContainerWait(ctx, cr.ID, container.WaitConditionNotRunning)
	select {
	case r := <-wait:
		if r.StatusCode != 0 {
			return fmt.Errorf("removing sandbox %s: giving its files back to you: chown in its image ended with %d", sb.Name, r.StatusCode)
		}
	case err := <-errc:
		return fmt.Errorf("removing sandbox %s: giving its files back to you: %w", sb.Name, err)
	}
	return nil
}

// DockerSocket is the engine's own socket as the engine sees it, for --mount-docker-socket: the
// path of a local unix DOCKER_HOST on Linux, else /var/run/docker.sock (which Docker Desktop,
// Colima and OrbStack provide inside their VMs).
func (b *Backend) DockerSocket(ctx context.Context) (string, error) {
	c, err := b.client(ctx)
	if err != nil {
		return "", err
	}
	// The socket's path on the engine's host: where the client reaches it when that is this
	// host, else the engine's usual one (Docker Desktop, Colima and the like serve it there
	// inside their VM).
	if local, err := b.engineLocal(ctx, c); err != nil {
		return "", err
	} else if p, ok := strings.CutPrefix(c.DaemonHost(), "unix://"); ok && local {
		return p, nil
	}
	return DockerSocketTarget, nil
}

// Differences are how a sandbox on this backend differs from one on the native engine.
var Differences = dockername.Differences

// Has reports whether path exists in the sandbox's container (false when there is none yet).
func (b *Backend) Has(ctx context.Context, sb *backend.Sandbox, path string) bool {
	c, err := b.client(ctx)
	if err != nil {
		return false
	}
	_, err = c.ContainerStatPath(ctx, ContainerName(sb), path)
	return err == nil
}

// info is the engine's system information, asked once per process.
func (b *Backend) info(ctx context.Context, c *client.Client) (system.Info, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sysinfo != nil {
		return *b.sysinfo, nil
	}
	info, err := c.Info(ctx)
	if err == nil {
		b.sysinfo = &info
	}
	return info, err
}

// sameLimits reports whether a container already has the resources r.
func sameLimits(hc *container.HostConfig, r container.Resources) bool {
	if hc == nil || hc.PidsLimit == nil || r.PidsLimit == nil {
		return false
	}
	return hc.NanoCPUs == r.NanoCPUs && hc.Memory == r.Memory && hc.MemorySwap == r.MemorySwap && *hc.PidsLimit == *r.PidsLimit
}

// userHome is the home folder of an image's USER from the image's /etc/passwd, read from a
// container that is made for that and removed, never started; /root for root or when unknown.
func (b *Backend) userHome(ctx context.Context, c *client.Client, ref, user string) string {
	if IsRoot(user) {
		return HomeDir
	}
	name, _, _ := strings.Cut(user, ":")
	cr, err := c.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: []string{"true"}, Entrypoint: []string{}},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		return HomeDir
	}
	defer c.ContainerRemove(context.WithoutCancel(ctx), cr.ID, container.RemoveOptions{Force: true})
	rc, _, err := c.CopyFromContainer(ctx, cr.ID, "/etc/passwd")
	if err != nil {
		return HomeDir
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return HomeDir
	}
	b2, _ := io.ReadAll(io.LimitReader(tr, 4<<20))
	for _, line := range strings.Split(string(b2), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && (f[0] == name || f[2] == name) && strings.HasPrefix(f[5], "/") && f[5] != "/" {
			return f[5]
		}
	}
	return HomeDir
}

// Salvage finds the container paddock made for a state folder (by its label), for a sandbox whose
// record is damaged: its id, name and working folder (the workspace it was started in).
func (b *Backend) Salvage(ctx context.Context, dir string) (*backend.Sandbox, error) {
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelDir+"="+dir))})
	if err != nil {
		return nil, noEngine(c.DaemonHost(), err)
	}
	for _, ct := range list {
		id, name := ct.Labels[labelID], ct.Labels[labelName]
		if len(id) < 12 || id[:12] != filepath.Base(dir) || name == "" {
			continue
		}
		sb := &backend.Sandbox{ID: id, Name: name, Dir: dir}
		if ci, err := c.ContainerInspect(ctx, ct.ID); err == nil && ci.Config != nil {
			sb.Spec.Workdir = ci.Config.WorkingDir
		}
		return sb, nil
	}
	return nil, fs.ErrNotExist
}

var _ backend.Salvager = (*Backend)(nil)

// Describe implements backend.Describer.
func (b *Backend) Describe(sb *backend.Sandbox) backend.Description { return dockername.Describe(sb) }

// The abilities of the Docker backend (backend.Abilities); internal/handover's stand-in must
// have the same (TestStandInHasDockerAbilities).
var (
	_ backend.Salvager       = (*Backend)(nil)
	_ backend.Reviver        = (*Backend)(nil)
	_ backend.SocketProvider = (*Backend)(nil)
	_ backend.ImageResolver  = (*Backend)(nil)
	_ backend.FileChecker    = (*Backend)(nil)
	_ backend.Describer      = (*Backend)(nil)
	_ backend.EngineReporter = (*Backend)(nil)
	_ backend.Differ         = (*Backend)(nil)
	_ backend.DiskLimiter    = (*Backend)(nil)
)
