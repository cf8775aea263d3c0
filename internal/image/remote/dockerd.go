package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/paddockhq/paddock/internal/image"
)

// engineSave writes `docker save IMAGE` to file, through the Docker Engine API (GET
// /images/{name}/get) on DOCKER_HOST or /var/run/docker.sock: no docker CLI needed.
func engineSave(ctx context.Context, ref, file string) error {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return fmt.Errorf("%w: DOCKER_HOST %q: %v", image.ErrUnreachable, host, err)
	}
	tr := &http.Transport{}
	base := "http://docker"
	where := host
	switch u.Scheme {
	case "unix":
		sock := u.Path
		where = sock
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
	case "tcp", "http":
		if os.Getenv("DOCKER_TLS_VERIFY") != "" {
			return fmt.Errorf("%w: DOCKER_HOST %s with TLS is not supported; use the engine's unix socket", image.ErrUnreachable, host)
		}
		base = "http://" + u.Host
	default:
		return fmt.Errorf("%w: DOCKER_HOST %s: only unix:// and tcp:// engines are supported", image.ErrUnreachable, host)
	}
	client := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/images/"+url.PathEscape(ref)+"/get", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, syscall.EACCES):
			return fmt.Errorf("%w: no permission to use the Docker engine at %s (join the docker group, or run as root)", image.ErrUnreachable, where)
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("%w: no Docker engine at %s (is dockerd running? is DOCKER_HOST right?)", image.ErrUnreachable, where)
		}
		return fmt.Errorf("%w: the Docker engine at %s: %v", image.ErrUnreachable, where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: the Docker engine has no image %s (`docker pull %s` first)", image.ErrNotFound, ref, ref)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("the Docker engine could not export %s: %s %s", ref, resp.Status, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(file)
	if err != nil {
		return image.FSErr(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("exporting %s from the Docker engine: %w", ref, image.FSErr(err))
	}
	return image.FSErr(f.Close())
}
