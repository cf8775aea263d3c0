// Package imagetest builds OCI images from files in tests and serves them from a real registry
// on 127.0.0.1 that counts blob downloads, can require a login and can cut a blob short.
package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Ent is one tar entry of a test layer.
type Ent struct {
	Name, Body, Link string
	Type             byte
	Mode             int64
	UID, GID         int
	Xattrs           map[string]string
	Major            int64
}

// File, Dir, Symlink and Hardlink make the common entries.
func File(name, body string, mode int64, uid int) Ent {
	return Ent{Name: name, Body: body, Type: tar.TypeReg, Mode: mode, UID: uid, GID: uid}
}
func Dir(name string, mode int64, uid int) Ent {
	return Ent{Name: name, Type: tar.TypeDir, Mode: mode, UID: uid, GID: uid}
}
func Symlink(name, target string) Ent {
	return Ent{Name: name, Link: target, Type: tar.TypeSymlink, Mode: 0o777}
}
func Hardlink(name, target string) Ent {
	return Ent{Name: name, Link: target, Type: tar.TypeLink, Mode: 0o644}
}

// Tar writes the entries as an uncompressed tar.
func Tar(t testing.TB, es ...Ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID, Linkname: e.Link,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX, Devmajor: e.Major}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		for k, v := range e.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.Type == tar.TypeReg {
			tw.Write([]byte(e.Body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer makes a layer (gzip unless options say otherwise) of raw tar bytes.
func Layer(t testing.TB, raw []byte, opts ...tarball.LayerOption) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image makes a linux image of architecture arch with the layers and config.
func Image(t testing.TB, arch string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", arch, cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// DebianLike is a small image laid out like Debian and like Docker's sandbox templates: a base
// layer with merged /usr, symlinks, a hard link, setuid sudo, an `agent` user (uid 1000) with
// passwordless sudo, and a second layer that whites out a file and makes a folder opaque.
func DebianLike(t testing.TB, arch string) v1.Image {
	base := Tar(t,
		Dir("./", 0o755, 0),
		Dir("usr/bin", 0o755, 0), Dir("usr/lib", 0o755, 0), Dir("etc", 0o755, 0), Dir("etc/sudoers.d", 0o750, 0),
		Symlink("bin", "usr/bin"), Symlink("lib", "usr/lib"),
		File("usr/bin/sh", "#!/bin/true\n", 0o755, 0),
		Hardlink("usr/bin/dash", "usr/bin/sh"),
		Ent{Name: "usr/bin/sudo", Type: tar.TypeReg, Body: "sudo\n", Mode: 0o4755},
		File("etc/os-release", "ID=debian\n", 0o644, 0),
		File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000::/home/agent:/bin/sh\n", 0o644, 0),
		File("etc/sudoers.d/agent", "agent ALL=(ALL) NOPASSWD:ALL\n", 0o440, 0),
		Symlink("etc/localtime", "/usr/share/zoneinfo/Etc/UTC"),
		Dir("root", 0o700, 0), Dir("tmp", 0o1777, 0),
		Dir("home/agent", 0o755, 1000), File("home/agent/.bashrc", "PS1='$ '\n", 0o644, 1000),
		File("home/agent/old", "old\n", 0o644, 1000),
		Ent{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Major: 1},
	)
	top := Tar(t,
		Dir("etc", 0o755, 0), File("etc/.wh.os-release", "", 0, 0),
		Dir("home/agent", 0o755, 1000), File("home/agent/.wh..wh..opq", "", 0, 0),
		File("home/agent/new", "new\n", 0o644, 1000),
		Dir("var/cache/apt", 0o755, 0),
	)
	return Image(t, arch, v1.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		User: "agent", WorkingDir: "/home/agent", Cmd: []string{"/bin/sh"}}, Layer(t, base), Layer(t, top))
}

// Registry is a real registry on 127.0.0.1. Repositories under private/ need Username and
// Password; blobs listed in Truncate are served cut in half.
type Registry struct {
	Host     string // 127.0.0.1:PORT
	Username string
	Password string
	BlobGets atomic.Int64

	srv      *httptest.Server
	mu       sync.Mutex
	truncate map[string]bool
}

// NewRegistry starts one for the test.
func NewRegistry(t testing.TB) *Registry {
	r := &Registry{truncate: map[string]bool{}, Username: "alice", Password: "s3cret"}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/v2/private/") {
			if u, p, ok := req.BasicAuth(); !ok || u != r.Username || p != r.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
		}
		if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/sha256:") {
			r.BlobGets.Add(1)
			d := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
			r.mu.Lock()
			cut := r.truncate[d]
			r.mu.Unlock()
			if cut {
				rec := httptest.NewRecorder()
				reg.ServeHTTP(rec, req)
				body := rec.Body.Bytes()
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(http.StatusOK)
				w.Write(body[:len(body)/2])
				return
			}
		}
		reg.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.Host = strings.TrimPrefix(r.srv.URL, "http://")
	return r
}

// Truncate makes the registry serve blob digest cut in half.
func (r *Registry) Truncate(digest string) {
	r.mu.Lock()
	r.truncate[digest] = true
	r.mu.Unlock()
}

// Push stores img as repo (e.g. "test/debian:1") and returns its full reference.
func (r *Registry) Push(t testing.TB, repo string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, r.opts(repo)...); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

// PushIndex stores an index of the images, each with its platform.
func (r *Registry) PushIndex(t testing.TB, repo string, imgs map[string]v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.ImageIndex = empty.Index
	for p, img := range imgs {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	if err := remote.WriteIndex(ref, idx, r.opts(repo)...); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

func (r *Registry) opts(repo string) []remote.Option {
	if strings.HasPrefix(repo, "private/") {
		return []remote.Option{remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password})}
	}
	return nil
}
