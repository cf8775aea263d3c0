package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paddockhq/paddock/internal/backend"
)

// openTestStore opens a store in a fresh temporary folder.
func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// idWith returns a 64-hex-digit ID that starts with prefix and is padded with fill.
func idWith(prefix string, fill byte) string {
	return prefix + strings.Repeat(string(fill), 64-len(prefix))
}

// createRecord creates a record with the given name and ID, created at the given offset from a
// fixed instant so that listing order is predictable.
func createRecord(t *testing.T, s *Store, name, id string, age time.Duration) *Record {
	t.Helper()
	r := &Record{
		ID: id, Name: name, Agent: "shell", Workspace: "/work/" + name, Backend: "native",
		Created: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age),
		Spec: backend.Spec{Template: "host", Hostname: name, Workdir: "/work/" + name,
			Mounts: []backend.Mount{{Kind: backend.KindWorkspace, Source: "/work/" + name, Target: "/work/" + name}}},
	}
	if err := s.Create(r); err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	return r
}

func TestOpenCreatesPrivateFolder(t *testing.T) {
	s := openTestStore(t)
	st, err := os.Stat(filepath.Join(s.Root, "sandboxes"))
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("sandboxes folder: mode %v, want a 0700 folder", st.Mode())
	}
}

func TestCreateAndResolve(t *testing.T) {
	s := openTestStore(t)
	alpha := createRecord(t, s, "shell-alpha", idWith("a1b2c3d4e5f6", '0'), time.Hour)
	beta := createRecord(t, s, "shell-beta", idWith("b1b2c3d4e5f6", '1'), 2*time.Hour)
	// Two IDs sharing the prefix "cafe" but distinct short forms.
	c1 := createRecord(t, s, "shell-c1", idWith("cafe11111111", '2'), 0)
	c2 := createRecord(t, s, "shell-c2", idWith("cafe22222222", '3'), 0)
	// A name that is also a prefix of another sandbox's ID: the name wins.
	named := createRecord(t, s, "b1b2", idWith("d00d00d00d00", '4'), 0)

	tests := []struct {
		ref     string
		want    *Record
		wantErr error
	}{
		{ref: "shell-alpha", want: alpha},
		{ref: "shell-beta", want: beta},
		{ref: alpha.ID, want: alpha},
		{ref: alpha.ShortID(), want: alpha},
		{ref: "a1b2c", want: alpha},
		{ref: "cafe1", want: c1},
		{ref: "cafe2222", want: c2},
		{ref: "b1b2", want: named},
		{ref: "cafe", wantErr: ErrAmbiguous},
		{ref: "shell-gamma", wantErr: ErrNotFound},
		{ref: "ffff", wantErr: ErrNotFound},
		{ref: alpha.ID + "0", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := s.Resolve(tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%q) = %v, %v; want error %v", tt.ref, got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.ref, err)
			}
			if got.ID != tt.want.ID || got.Name != tt.want.Name {
				t.Fatalf("Resolve(%q) = %s (%s), want %s (%s)", tt.ref, got.Name, got.ID, tt.want.Name, tt.want.ID)
			}
		})
	}

	// The record read back is the one written.
	got, err := s.Resolve("shell-alpha")
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != SchemaVersion || got.Agent != alpha.Agent || got.Workspace != alpha.Workspace ||
		!got.Created.Equal(alpha.Created) || got.Spec.Mounts[0] != alpha.Spec.Mounts[0] || got.Spec.Template != "host" {
		t.Fatalf("record read back differs:\n got  %+v\n want %+v", got, alpha)
	}
}

func TestListOldestFirst(t *testing.T) {
	s := openTestStore(t)
	createRecord(t, s, "middle", idWith("222222222222", 'a'), 2*time.Hour)
	createRecord(t, s, "newest", idWith("111111111111", 'b'), time.Hour)
	createRecord(t, s, "oldest", idWith("333333333333", 'c'), 3*time.Hour)
	recs, bad, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 0 {
		t.Fatalf("corrupt: %v", bad)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "oldest,middle,newest" {
		t.Fatalf("List order = %s, want oldest,middle,newest", got)
	}
}

func TestCreateIsAtomic(t *testing.T) {
	s := openTestStore(t)
	r := createRecord(t, s, "shell-x", idWith("0123456789ab", 'e'), 0)

	entries, err := os.ReadDir(filepath.Join(s.Root, "sandboxes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".new-") {
			t.Errorf("temporary folder %s left behind", e.Name())
		}
	}
	if s.Dir(r.ID) != filepath.Join(s.Root, "sandboxes", "0123456789ab") {
		t.Errorf("Dir = %s, want the 12-character short ID under sandboxes", s.Dir(r.ID))
	}
	files, err := os.ReadDir(s.Dir(r.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name() != "record.json" {
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		t.Errorf("sandbox folder holds %v, want only record.json", names)
	}
	st, err := os.Stat(filepath.Join(s.Dir(r.ID), "record.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("record.json mode = %v, want 0600", st.Mode().Perm())
	}
	var onDisk Record
	b, _ := os.ReadFile(filepath.Join(s.Dir(r.ID), "record.json"))
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.ID != r.ID || onDisk.Schema != SchemaVersion {
		t.Errorf("record.json = %s (%v), want the record with schema %d", b, err, SchemaVersion)
	}

	// A second sandbox with the same short ID cannot silently replace the first.
	dup := &Record{ID: r.ID[:12] + strings.Repeat("f", 52), Name: "dup"}
	if err := s.Create(dup); err == nil {
		t.Errorf("Create over an existing sandbox folder succeeded")
	}
	if got, err := s.Resolve("shell-x"); err != nil || got.ID != r.ID {
		t.Errorf("after the failed Create, Resolve(shell-x) = %v, %v", got, err)
	}
}

func TestSaveRewritesRecord(t *testing.T) {
	s := openTestStore(t)
	r := createRecord(t, s, "shell-x", idWith("0123456789ab", 'e'), 0)
	r.Spec.Env = []string{"A=1"}
	if err := s.Save(r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Env) != 1 || got.Spec.Env[0] != "A=1" {
		t.Fatalf("after Save, env = %v", got.Spec.Env)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(r.ID), "record.json.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record.json.tmp left behind: %v", err)
	}
}

func TestCorruptRecords(t *testing.T) {
	good := Record{Schema: SchemaVersion, Name: "x", Agent: "shell", Created: time.Now().UTC()}
	jsonOf := func(r Record) string {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	newer := good
	newer.Schema = SchemaVersion + 1
	newer.ID = idWith("feed00000001", '0')
	otherID := good
	otherID.ID = idWith("beef00000000", '0') // folder below is feed00000003
	noName := good
	noName.ID = idWith("feed00000004", '0')
	noName.Name = ""

	tests := []struct {
		name    string
		dir     string
		content string // "" means no record.json at all
		wantMsg string
	}{
		{name: "garbage JSON", dir: "feed00000000", content: "{not json", wantMsg: "invalid character"},
		{name: "newer schema", dir: "feed00000001", content: jsonOf(newer), wantMsg: "newer paddock"},
		{name: "missing record", dir: "feed00000002", content: ""},
		{name: "ID of another folder", dir: "feed00000003", content: jsonOf(otherID), wantMsg: "does not describe this sandbox"},
		{name: "no name", dir: "feed00000004", content: jsonOf(noName), wantMsg: "does not describe this sandbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			healthy := createRecord(t, s, "healthy", idWith("aaaaaaaaaaaa", '9'), 0)
			dir := filepath.Join(s.Root, "sandboxes", tt.dir)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tt.content != "" {
				if err := os.WriteFile(filepath.Join(dir, "record.json"), []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			recs, bad, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].ID != healthy.ID {
				t.Errorf("List records = %v, want only the healthy one", recs)
			}
			if len(bad) != 1 || bad[0].Dir != dir || !errors.Is(bad[0].Err, ErrCorrupt) {
				t.Fatalf("List corrupt = %+v, want one entry for %s wrapping ErrCorrupt", bad, dir)
			}
			if !strings.Contains(bad[0].Err.Error(), tt.wantMsg) {
				t.Errorf("corrupt error %q does not mention %q", bad[0].Err, tt.wantMsg)
			}

			_, err = s.Resolve(tt.dir[:6])
			if err == nil {
				t.Fatalf("Resolve of a corrupt sandbox succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.Contains(msg, "paddock rm -f "+tt.dir) {
				t.Errorf("error %q does not say to run `paddock rm -f %s`", msg, tt.dir)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %q does not wrap ErrCorrupt", msg)
			}
			// The healthy sandbox is still reachable.
			if r, err := s.Resolve("healthy"); err != nil || r.ID != healthy.ID {
				t.Errorf("Resolve(healthy) = %v, %v", r, err)
			}

			for _, rc := range []struct {
				ref    string
				wantOK bool
			}{
				{tt.dir, true},
				{tt.dir[:4], true},
				{tt.dir[:3], false}, // too short to pick a folder to delete
				{"aaaa", false},     // healthy, not corrupt
				{"0000", false},
			} {
				got, ok := s.ResolveCorrupt(rc.ref)
				if ok != rc.wantOK || (ok && got != dir) {
					t.Errorf("ResolveCorrupt(%q) = %q, %v; want ok=%v (%s)", rc.ref, got, ok, rc.wantOK, dir)
				}
			}
		})
	}
}

func TestListRemovesStaleNewFolders(t *testing.T) {
	s := openTestStore(t)
	createRecord(t, s, "healthy", idWith("aaaaaaaaaaaa", '9'), 0)
	sbs := filepath.Join(s.Root, "sandboxes")
	stale := filepath.Join(sbs, ".new-123")
	fresh := filepath.Join(sbs, ".new-456")
	for _, d := range []string{stale, fresh} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "record.json"), []byte("{half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	recs, bad, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(bad) != 0 {
		t.Errorf("List = %d records, corrupt %+v; want 1 record and no corrupt entries", len(recs), bad)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale %s not removed (%v)", stale, err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh %s (a creation in progress) was removed: %v", fresh, err)
	}
}

func TestLockSerialises(t *testing.T) {
	s := openTestStore(t)
	id1, id2 := idWith("111111111111", '0'), idWith("222222222222", '0')
	tests := []struct {
		name         string
		first, other func() (func(), error)
		wantBlock    bool
	}{
		{"store lock", s.Lock, s.Lock, true},
		{"same sandbox", func() (func(), error) { return s.LockSandbox(id1) }, func() (func(), error) { return s.LockSandbox(id1) }, true},
		{"other sandbox", func() (func(), error) { return s.LockSandbox(id1) }, func() (func(), error) { return s.LockSandbox(id2) }, false},
		{"store and sandbox", s.Lock, func() (func(), error) { return s.LockSandbox(id1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unlock, err := tt.first()
			if err != nil {
				t.Fatal(err)
			}
			events := make(chan string, 4)
			done := make(chan struct{})
			go func() {
				defer close(done)
				u, err := tt.other()
				if err != nil {
					events <- "error: " + err.Error()
					return
				}
				events <- "second locked"
				u()
			}()
			select {
			case ev := <-events:
				if tt.wantBlock {
					unlock()
					<-done
					t.Fatalf("while the first lock was held: %s", ev)
				}
			case <-time.After(200 * time.Millisecond):
				if !tt.wantBlock {
					unlock()
					<-done
					t.Fatal("second lock blocked though it is independent of the first")
				}
			}
			events <- "first unlocked"
			unlock()
			<-done
			close(events)
			var order []string
			for ev := range events {
				order = append(order, ev)
			}
			want := "first unlocked,second locked"
			if !tt.wantBlock {
				want = "first unlocked" // "second locked" was consumed above
			}
			if got := strings.Join(order, ","); got != want {
				t.Fatalf("order = %s, want %s", got, want)
			}
		})
	}
}

func TestLockIsReleasedForReuse(t *testing.T) {
	s := openTestStore(t)
	for i := range 3 {
		unlock, err := s.Lock()
		if err != nil {
			t.Fatalf("Lock #%d: %v", i, err)
		}
		unlock()
	}
}

func TestNewID(t *testing.T) {
	s := openTestStore(t)
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	seen := map[string]bool{}
	for range 20 {
		id, err := s.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !hex64.MatchString(id) {
			t.Fatalf("NewID = %q, want 64 lowercase hex digits", id)
		}
		if seen[id[:12]] {
			t.Fatalf("NewID repeated short ID %s", id[:12])
		}
		seen[id[:12]] = true
	}
}

func TestDefaultHome(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name                string
		paddock, xdg, uhome string
		want                string
	}{
		{"PADDOCK_HOME wins", "/srv/pd", "/xdg", home, "/srv/pd"},
		{"relative PADDOCK_HOME refused (it would land in whatever folder a command runs in)", "rel/pd", "", home, ""},
		{"XDG_DATA_HOME", "", "/xdg/data", home, "/xdg/data/paddock"},
		{"home folder", "", "", home, filepath.Join(home, ".local", "share", "paddock")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PADDOCK_HOME", tt.paddock)
			t.Setenv("XDG_DATA_HOME", tt.xdg)
			t.Setenv("HOME", tt.uhome)
			got, err := DefaultHome()
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "not an absolute path") {
					t.Fatalf("DefaultHome = %q, %v; want a refusal", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("DefaultHome = %q, want %q", got, tt.want)
			}
		})
	}
}

// An empty reference (e.g. an unset shell variable in `paddock rm "$NAME"`) must not pick a
// sandbox: every ID has the empty prefix, so with a single sandbox it would be the match.
func TestResolveEmptyReference(t *testing.T) {
	s := openTestStore(t)
	createRecord(t, s, "only", idWith("abcdefabcdef", '1'), 0)
	for _, ref := range []string{"", " "} {
		if r, err := s.Resolve(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, %v; want ErrNotFound", ref, r, err)
		}
	}
}
