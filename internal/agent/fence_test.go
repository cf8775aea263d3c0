package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostSandbox stands for the install sandbox in the installer's own tests: it runs the fake npm
// on the host, in the version's folder, and reports the hosts and strays it is told to. The
// real install sandbox is tested end to end (internal/e2e/agentfence_test.go).
type hostSandbox struct {
	npm    string
	hosts  []HostUse
	strays []string
	jobs   []InstallJob
}

func (s *hostSandbox) Open(ctx context.Context, job InstallJob) (InstallBox, error) {
	s.jobs = append(s.jobs, job)
	return &hostBox{s: s, job: job}, nil
}

type hostBox struct {
	s   *hostSandbox
	job InstallJob
}

func (b *hostBox) Run(ctx context.Context, argv []string, out *os.File) (int, error) {
	cmd := exec.CommandContext(ctx, b.s.npm, argv[1:]...)
	cmd.Dir = b.job.Dir
	cmd.Env = append(os.Environ(), b.job.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func (b *hostBox) Hosts() []HostUse { return b.s.hosts }
func (b *hostBox) Strays() []string { return b.s.strays }
func (b *hostBox) Close() error     { return nil }

func TestInstallJobFenced(t *testing.T) {
	f := newFixture(t)
	if _, err := f.in.Ensure(context.Background(), fakeAgent{}, "1.0.0"); err != nil {
		t.Fatal(err)
	}
	job := f.in.Sandbox.(*hostSandbox).jobs[0]
	if !strings.Contains(strings.Join(job.Allow, " "), "registry.npmjs.org:443") {
		t.Errorf("allowed %q: no registry", job.Allow)
	}
	for _, kv := range job.Env {
		if strings.Contains(strings.ToLower(kv), "token") || strings.HasPrefix(kv, "HOME=") {
			t.Errorf("install env carries %q", kv)
		}
	}
	b, _ := os.ReadFile(filepath.Join(job.Config, "npmrc"))
	_ = b // removed after the install
	r := f.in.Record("fake", "1.0.0")
	if r == nil || !r.OK || r.Signatures == "" || !strings.HasPrefix(r.Integrity, "verified") {
		t.Fatalf("install record %+v", r)
	}
	if log, err := os.ReadFile(r.Log); err != nil || !strings.Contains(string(log), "--- signatures: no registry signature offered") {
		t.Fatalf("install log %q, %v", log, err)
	}
}

// A version whose install reached for another host, or wrote outside its folder, is refused:
// the previous version stays, nothing half-installed, one line naming the log.
func TestInstallRefused(t *testing.T) {
	for _, c := range []struct {
		name   string
		hosts  []HostUse
		strays []string
		want   string
	}{
		{"other host", []HostUse{{Host: "registry.npmjs.org", Port: 443, Allowed: true, Listed: true, Count: 3},
			{Host: "evil.example", Port: 443, Reason: "no rule allows evil.example:443", Count: 1}}, nil, "reached for evil.example:443"},
		{"listed but unresolvable is not refused", []HostUse{{Host: "github.com", Port: 443, Listed: true, Reason: "cannot resolve"}}, nil, ""},
		{"wrote outside", nil, []string{"~/.bashrc", "/tmp/x", "~/.config/fake", "/tmp/fake"}, "wrote outside its folder (~/.bashrc, /tmp/x)"},
		{"tools' own folders are only logged", nil, []string{"~/.cache/x", "~/.local/share/fake", "/tmp/fake/y"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if _, err := f.in.Ensure(context.Background(), fakeAgent{}, "1.0.0"); err != nil {
				t.Fatal(err)
			}
			hs := f.in.Sandbox.(*hostSandbox)
			hs.hosts, hs.strays = c.hosts, c.strays
			_, err := f.in.Ensure(context.Background(), fakeAgent{}, "1.1.0")
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") ||
				!strings.Contains(err.Error(), f.in.LogPath("fake", "1.1.0")) {
				t.Fatalf("err = %v", err)
			}
			if vs := f.in.Cached("fake"); len(vs) != 1 || vs[0].Version != "1.0.0" || len(leftovers(t, f.in)) != 0 {
				t.Fatalf("after the refusal: %v, leftovers %v", vs, leftovers(t, f.in))
			}
			if lf := f.in.LastFailed("fake"); lf == nil || lf.Version != "1.1.0" || lf.OK {
				t.Fatalf("LastFailed = %+v", lf)
			}
		})
	}
}

// Following the latest: an installed version starts without the registry; a check runs in the
// background at most every UpdateEvery, never when turned off.
func TestUpdateInBackground(t *testing.T) {
	f := newFixture(t)
	var started []string
	f.in.Background = func(agent, backend string) error { started = append(started, agent+"/"+backend); return nil }
	ctx := context.Background()
	if _, err := f.in.EnsureOn(ctx, fakeAgent{}, "", "native"); err != nil {
		t.Fatal(err)
	}
	views := f.calls("view")
	for range 3 {
		if got, err := f.in.EnsureOn(ctx, fakeAgent{}, "", "native"); err != nil || got.Version != "1.1.0" {
			t.Fatal(got, err)
		}
	}
	if f.calls("view") != views || len(started) != 0 {
		t.Fatalf("checked just now, yet: views %d, background %v", f.calls("view")-views, started)
	}
	old := time.Now().Add(-25 * time.Hour)
	os.Chtimes(f.in.checkedPath("fake"), old, old)
	f.in.EnsureOn(ctx, fakeAgent{}, "", "docker")
	f.in.EnsureOn(ctx, fakeAgent{}, "", "docker")
	if len(started) != 1 || started[0] != "fake/docker" || f.calls("view") != views {
		t.Fatalf("a day later: background %v, views %d", started, f.calls("view")-views)
	}
	os.Chtimes(f.in.checkedPath("fake"), old, old)
	f.in.UpdateEvery = -1
	f.in.EnsureOn(ctx, fakeAgent{}, "", "native")
	if len(started) != 1 {
		t.Fatalf("updates off, yet: %v", started)
	}
	// agents update installs the latest at once.
	t.Setenv("FAKE_NPM_LATEST", "")
	if inst, installed, err := f.in.Update(ctx, fakeAgent{}, "native"); err != nil || installed || inst.Version != "1.1.0" {
		t.Fatalf("Update = %+v %v %v", inst, installed, err)
	}
}

func TestSignatures(t *testing.T) {
	for _, c := range []struct {
		code    int
		out     string
		want    string
		refused bool
	}{
		{0, `{"invalid":[],"missing":[]}`, "verified (", false},
		{0, "npm warn x\n{\"invalid\":[],\"missing\":[{\"name\":\"a\",\"version\":\"1.0.0\"}]}", "verified where offered (1 packages", false},
		{1, `{"invalid":[{"name":"evil","version":"9.9.9"}],"missing":[]}`, "INVALID: evil@9.9.9", true},
		{1, `{"error":{"code":"ENOAUDIT","summary":"found no dependencies to audit that were installed from a supported registry"}}`, "not offered by the registry", false},
		{1, "npm error Failed to download\n", "not checked", false},
	} {
		got, err := signatures(c.code, []byte(c.out))
		if !strings.HasPrefix(got, c.want) || (err != nil) != c.refused || c.refused && !errors.Is(err, ErrRefused) {
			t.Errorf("signatures(%d, %q) = %q, %v", c.code, c.out, got, err)
		}
	}
}
