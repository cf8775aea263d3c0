package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// host.paddock.internal reaches a service on the host's loopback through the proxy, only at a
// port a rule names it for, logged like any connection; on both backends, root and rootless.
func TestHostServices(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) { checkHostServices(t, e, nil) })
}

func TestHostServicesDocker(t *testing.T) {
	forEachDockerMode(t, func(t *testing.T, e *env) { checkHostServices(t, e, []string{"--backend", "docker"}) })
}

func checkHostServices(t *testing.T, e *env, backend []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "the host's own service")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	ws := e.workspace("hostsvc")
	probe := hegInstall(t, e, ws)
	pd := func(args ...string) result { return e.run(ws, append(append([]string{}, backend...), args...)...) }
	// The open preset allows the public Internet ("*"), never the host's services.
	r := pd("run", "-d", "--network", "open", "shell")
	if r.code != 0 {
		t.Fatalf("run -d: %s", r)
	}
	name := strings.TrimSpace(r.stdout)
	url := fmt.Sprintf("http://host.paddock.internal:%d/", port)
	fetch := func() map[string]string {
		return hegLines(e.run(ws, "exec", name, probe, "plain", url).stdout)
	}
	if got := fetch(); got["status"] != "403" || strings.Contains(got["body"], "own service") {
		t.Fatalf("without a rule (open preset): %v", got)
	}
	// A rule for another port allows nothing here; a rule naming the port does.
	e.ok(ws, "policy", "allow", fmt.Sprintf("host.paddock.internal:%d", port+1), "--sandbox", name)
	if got := fetch(); got["status"] != "403" {
		t.Fatalf("a rule for another port: %v", got)
	}
	e.ok(ws, "policy", "allow", fmt.Sprintf("host.paddock.internal:%d", port), "--sandbox", name)
	if got := fetch(); got["status"] != "200" || got["body"] != "the host's own service" {
		t.Fatalf("with the rule: %v", got)
	}
	log := e.ok(ws, "policy", "log", name)
	if !strings.Contains(log, fmt.Sprintf("host.paddock.internal:%d", port)) && !strings.Contains(log, "host.paddock.internal") {
		t.Errorf("the connection is not in the policy log:\n%s", log)
	}
	if r := e.run(ws, "policy", "allow", "host.paddock.internal"); r.code == 0 || !strings.Contains(r.stderr, "port") {
		t.Errorf("a rule for the host's services without a port: %s", r)
	}
	e.ok("", "rm", "-f", name)
}
