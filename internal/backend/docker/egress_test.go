//go:build linux

package docker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
	"github.com/paddockhq/paddock/internal/backend/docker"
	"github.com/paddockhq/paddock/internal/backend/docker/dockertest"
	"github.com/paddockhq/paddock/internal/backend/docker/egresshost"
	"github.com/paddockhq/paddock/internal/egress"
)

// TestEgress: a container with egress has no network of its own, only paddock's proxy at
// 127.0.0.1:PORT inside, which lets through what the policy allows, audits it, and is gone (no
// way out at all) when its host side is.
//
// Both ways of reaching the host side: the bind-mounted socket (an engine on this host) and the
// link over `docker exec` streams (any engine: nothing of the host is mounted but the workspace).
func TestEgress(t *testing.T) {
	ref := dockertest.Image(t)
	bins := t.TempDir()
	os.Chmod(bins, 0o755)
	build := exec.Command("go", "build", "-o", bins+"/", "../../../cmd/paddock", "../../../cmd/paddock-oci")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building paddock: %v\n%s", err, out)
	}
	for _, mode := range []string{"socket", "link"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv(docker.ModeEnv, mode)
			testEgress(t, ref, mode, filepath.Join(bins, "paddock"), filepath.Join(bins, "paddock-oci"))
		})
	}
}

func testEgress(t *testing.T, ref, mode, bin, server string) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	// A server on the host's loopback that only the proxy can reach, under two names.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from the host") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	home := filepath.Join(dir, "home")
	os.MkdirAll(filepath.Join(home, "egress"), 0o700)
	os.WriteFile(egress.GlobalPolicyPath(home), []byte(`{"rules":[{"rule":"allowed.test","action":"allow"}]}`), 0o600)
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("allowed.test 127.0.0.1\ndenied.test 127.0.0.1\n"), 0o644)
	t.Setenv(egress.HostsEnv, hosts)

	ws := filepath.Join(dir, "ws")
	os.MkdirAll(ws, 0o755)
	b := docker.New()
	b.EngineBinary, b.ServerBinary = bin, server
	sb := &backend.Sandbox{ID: strings.Repeat("e9", 32), Name: "egress-test", Dir: filepath.Join(dir, "state"),
		Spec: backend.Spec{Template: ref, Image: &backend.Image{Ref: ref}, Hostname: "egress-test", Workdir: ws,
			Mounts: []backend.Mount{{Kind: backend.KindWorkspace, Source: ws, Target: ws}},
			Egress: &backend.Egress{ProxyPort: 3128, Policy: "locked", Home: home}}}
	ctx := context.Background()
	t.Cleanup(func() { b.Stop(ctx, sb, time.Second); b.Remove(ctx, sb) })
	if err := b.Start(ctx, sb); err != nil {
		t.Fatal(err)
	}
	sh := func(script string) (int, string) {
		t.Helper()
		out, _ := os.CreateTemp(dir, "out")
		defer out.Close()
		in, _ := os.Open(os.DevNull)
		defer in.Close()
		code, err := b.Exec(ctx, sb, backend.ExecRequest{Argv: []string{"/bin/sh", "-c", script}}, backend.ExecIO{Stdin: in, Stdout: out, Stderr: out})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := os.ReadFile(out.Name())
		return code, string(o)
	}
	// busybox's wget crashes in the test image (static glibc resolving names): the proxy's plain
	// HTTP side is spoken with nc instead.
	get := func(host string) string {
		return fmt.Sprintf(`printf 'GET http://%s:%d/ HTTP/1.0\r\nHost: %s\r\n\r\n' | nc -w 5 127.0.0.1 3128`, host, port, host)
	}
	if _, out := sh(get("allowed.test")); !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.HasSuffix(out, "hello from the host") {
		t.Fatalf("allowed through the proxy: %q", out)
	}
	if _, out := sh(get("denied.test")); strings.Contains(out, "hello") || !strings.Contains(out, "403") {
		t.Fatalf("denied host: %q", out)
	}
	// Around the proxy: the container's own loopback, no interface but lo.
	if code, out := sh(fmt.Sprintf("ls /sys/class/net; echo | nc -w 3 127.0.0.1 %d", port)); code == 0 || strings.Contains(out, "hello") || !strings.Contains(out, "Connection refused") || strings.Count(out, "\n") != 2 || !strings.Contains(out, "lo\n") {
		t.Fatalf("reached the host without the proxy: exit %d, %q", code, out)
	}
	if code, out := sh(`echo "$HTTPS_PROXY $SSL_CERT_FILE"; test -s "$SSL_CERT_FILE" && test -x ` + egresshost.Binary); code != 0 || out != "http://127.0.0.1:3128 "+egress.CABundlePath+"\n" {
		t.Fatalf("proxy settings inside: exit %d, %q", code, out)
	}
	if mode == "socket" {
		// The relay cannot be turned into a way around: the socket's folder is read-only.
		if code, _ := sh("rm -f " + egresshost.SocketDir + "/" + egresshost.SocketName); code == 0 {
			t.Error("the sandbox removed the proxy's socket")
		}
	} else {
		// Nothing of the host's is mounted but the workspace (an engine in a VM or on another
		// host could not mount the state folder), and the bundle has the image's roots too.
		ci, err := dockertest.Require(t).ContainerInspect(ctx, docker.ContainerName(sb))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ci.Mounts {
			if m.Type == "bind" && m.Source != ws {
				t.Errorf("link mode mounts %s from the host at %s", m.Source, m.Destination)
			}
		}
		if code, out := sh(`grep -c 'BEGIN CERTIFICATE' "$SSL_CERT_FILE"; ls -l ` + egresshost.LinkSocket); code != 0 || !strings.Contains(out, "srw-------") {
			t.Errorf("link mode files: exit %d, %q", code, out)
		}
	}
	audit, _ := os.ReadFile(egress.AuditPath(sb.Dir))
	if !strings.Contains(string(audit), "allowed.test") || !strings.Contains(string(audit), "denied.test") {
		t.Errorf("audit log: %s", audit)
	}
	// Without its host side the sandbox has no way out.
	egresshost.StopServer(sb.Dir)
	if _, out := sh(get("allowed.test")); strings.Contains(out, "hello") {
		t.Fatalf("reached out with the proxy gone: %q", out)
	}
	// Stop ends the host side; start brings both back.
	if err := b.Stop(ctx, sb, time.Second); err != nil {
		t.Fatal(err)
	}
	if egresshost.Running(sb.Dir) {
		t.Error("the proxy's host side outlived the sandbox")
	}
	if err := b.Start(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if _, out := sh(get("allowed.test")); !strings.HasSuffix(out, "hello from the host") {
		t.Fatalf("after stop/start: %q", out)
	}
}

// TestEgressRefused: where the proxy cannot be given to the container, the start fails with one
// clear line and nothing runs.
func TestEgressRefused(t *testing.T) {
	ref := dockertest.Image(t)
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	os.MkdirAll(ws, 0o755)
	b := docker.New()
	b.EngineBinary = filepath.Join(dir, "no-such-paddock")
	sb := &backend.Sandbox{ID: strings.Repeat("ea", 32), Name: "egress-refused", Dir: filepath.Join(dir, "state"),
		Spec: backend.Spec{Template: ref, Image: &backend.Image{Ref: ref}, Hostname: "x", Workdir: ws,
			Mounts: []backend.Mount{{Kind: backend.KindWorkspace, Source: ws, Target: ws}},
			Egress: &backend.Egress{ProxyPort: 3128, Policy: "balanced", Home: filepath.Join(dir, "home")}}}
	ctx := context.Background()
	t.Cleanup(func() { b.Stop(ctx, sb, time.Second); b.Remove(ctx, sb) })
	err := b.Start(ctx, sb)
	if err == nil || !strings.Contains(err.Error(), "paddock's binary") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("start without paddock's binary: %v", err)
	}
	if st, _ := b.State(ctx, sb); st.Status == "running" {
		t.Fatal("the container runs")
	}
}
