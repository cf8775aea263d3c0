package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker/dockername"
)

// AddDocker adds what paddock found of a Docker engine; required when the Docker backend makes
// the new sandboxes. When it does, the native engine's checks stop being required.
func (r *Report) AddDocker(ctx context.Context, b backend.Backend, chosen string) {
	r.Backend = chosen
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c := Check{Name: "docker engine", Required: chosen == "docker"}
	var e backend.Engine
	var err error
	if be, ok := b.(backend.EngineReporter); ok {
		e, err = be.Engine(ctx)
	} else {
		err = fmt.Errorf("this paddock has no Docker backend")
	}
	if err != nil {
		c.Detail = err.Error()
		c.Fix = "start Docker (Docker Desktop, Colima, OrbStack or dockerd) or point DOCKER_HOST at it; needed for --backend docker"
	} else {
		r.Docker = &e
		c.OK = true
		c.Detail = fmt.Sprintf("%s %s at %s (Engine API %s, paddock speaks %s), %s %s/%s", e.Name, e.Version, e.Host, e.APIVersion, e.NegotiatedAPI, e.System, e.OS, e.Arch)
		if e.CgroupVersion != "" {
			c.Detail += ", cgroup v" + e.CgroupVersion
		}
		if e.Context != "" {
			c.Detail += ", docker context " + e.Context
		}
		c.Detail += map[string]string{"socket": "; egress: the proxy's socket is mounted (the engine is on this host)",
			"link": "; egress: linked over docker exec streams (the engine is not on this host)"}[e.Egress]
	}
	if chosen == "docker" {
		for i := range r.Checks {
			r.Checks[i].Required = false
		}
		r.Protections = []string{"a container of the engine: mount, pid, ipc, uts and cgroup namespaces",
			"network: none (loopback only)", "capabilities: Docker's default set less NET_RAW, MKNOD, AUDIT_WRITE, SETFCAP, NET_BIND_SERVICE, SYS_CHROOT",
			"no_new_privs", "seccomp: Docker's default profile", "limits: memory, cpu, pids (the engine's cgroups)"}
		if e.CgroupVersion == "" && err != nil {
			r.Protections = nil
		}
	}
	r.add(c)
	r.add(Check{Name: "per-sandbox disk limit (--disk), Docker backend", Detail: dockername.NoDiskLimit + ": --disk is refused",
		Fix: "keep Docker's data root on a filesystem of its own, or use the native backend as root"})
	r.finish()
}
