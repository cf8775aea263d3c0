package volume

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/paddockhq/paddock/internal/agent"
	"github.com/paddockhq/paddock/internal/backend"
)

func TestMountsListRemove(t *testing.T) {
	s := &Store{Root: filepath.Join(t.TempDir(), "volumes")}
	oc, _ := agent.Lookup("opencode")
	ms, err := s.Mounts(oc)
	if err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(s.Root, "paddock-opencode-data")
	want := []backend.Mount{
		{Kind: backend.KindVolume, Source: filepath.Join(vol, "config-opencode"), Target: "/root/.config/opencode"},
		{Kind: backend.KindVolume, Source: filepath.Join(vol, "local-share-opencode"), Target: "/root/.local/share/opencode"},
	}
	if len(ms) != 2 || ms[0] != want[0] || ms[1] != want[1] {
		t.Fatalf("Mounts = %+v", ms)
	}
	for _, p := range []string{s.Root, vol, want[0].Source, want[1].Source} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want mode 0700", p, st, err)
		}
	}
	os.WriteFile(filepath.Join(want[0].Source, "opencode.json"), []byte("{}"), 0o600)
	// Again: nothing changes, the file stays.
	if _, err := s.Mounts(oc); err != nil {
		t.Fatal(err)
	}
	sh, _ := agent.Lookup("shell")
	if ms, err := s.Mounts(sh); err != nil || len(ms) != 0 {
		t.Fatalf("shell has a volume: %v %v", ms, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	v := list[0]
	if v.Name != "paddock-opencode-data" || v.Agent != "opencode" || v.Size != 2 || len(v.Folders) != 2 || v.Folders[0].Target != "/root/.config/opencode" {
		t.Fatalf("volume %+v", v)
	}
	if _, err := s.Get("paddock-claude-data"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing volume: %v", err)
	}
	for _, bad := range []string{"../x", "claude", "paddock-../-data"} {
		if err := s.Remove(bad); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Remove(%q): %v", bad, err)
		}
	}
	// A folder the agent made read-only does not stop the removal.
	os.MkdirAll(filepath.Join(want[1].Source, "ro", "x"), 0o755)
	os.Chmod(filepath.Join(want[1].Source, "ro"), 0o500)
	if err := s.Remove("paddock-opencode-data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vol); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("volume still there: %v", err)
	}
}
