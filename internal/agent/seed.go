package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/paddockhq/paddock/internal/fsutil"
)

// SeedContext is what paddock knows when it prepares an agent's own configuration in its config
// volume before the agent starts, so that a first run asks nothing the user cannot answer inside
// a sandbox (onboarding, trusting the workspace, accepting the bypass mode, choosing how to log
// in) and does not phone home (telemetry, update checks).
type SeedContext struct {
	// Dirs maps each of the agent's config folders in the sandbox (/root/.claude) to the host
	// folder of the volume that holds it.
	Dirs map[string]string
	// Workspaces are the folders the agent is started in: trusted without a question.
	Workspaces []string
	// Placeholder is the value the sandbox holds for a stored secret; the egress proxy puts the
	// real key in its place on the requests that leave the sandbox.
	Placeholder func(secret string) string
}

// Seeder is an agent that prepares its configuration files.
type Seeder interface {
	Seed(c SeedContext) error
}

// Seed prepares the agent's configuration, when it has something to prepare.
func (a npmAgent) Seed(c SeedContext) error {
	if a.seed == nil {
		return nil
	}
	return a.seed(c)
}

// Seed prepares a's configuration when it is a Seeder.
func Seed(a Agent, c SeedContext) error {
	if s, ok := a.(Seeder); ok {
		if err := s.Seed(c); err != nil {
			return fmt.Errorf("preparing %s's configuration: %w", a.Name(), err)
		}
	}
	return nil
}

// ErrNotObject: a settings file holds something other than a JSON object (or valid TOML); paddock
// leaves it as it is.
var ErrNotObject = errors.New("not a settings object")

// maxSettings bounds what paddock reads of a settings file in a config volume (Claude Code's
// .claude.json grows with its history; a sandbox could plant something endless).
const maxSettings = 32 << 20

// The config volume is written by sandboxes: its files are read and written beneath the volume's
// folder (root) only, never through a link, only as regular files (internal/fsutil).

// MergeJSON adds to the JSON object in file root/rel the members of defaults it lacks, descending
// into objects present on both sides, and keeps every value already there (a user's own changes
// win, also over paddock's later defaults), and the order of its members. A missing or empty file
// is created with defaults (mode 0600). A file that is not a JSON object is left untouched and
// ErrNotObject returned. The file is replaced atomically, and only when something was added.
func MergeJSON(root, rel string, defaults map[string]any) error {
	path := filepath.Join(root, rel)
	old, err := fsutil.ReadFileBeneath(root, rel, maxSettings)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(bytes.TrimSpace(old)) == 0 {
		old = []byte("{}")
	}
	out, changed, err := mergeObject(old, defaults)
	if err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrNotObject, err)
	}
	if !changed {
		return nil
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, out, "", "  "); err != nil {
		return err
	}
	ind.WriteByte('\n')
	return writeAtomic(root, rel, ind.Bytes())
}

// member is one member of a JSON object, its value kept verbatim.
type member struct {
	key string
	val json.RawMessage
}

func parseObject(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("expected a JSON object")
	}
	var ms []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		ms = append(ms, member{k, v})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, fmt.Errorf("unterminated JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return ms, nil
}

func mergeObject(old []byte, defaults map[string]any) ([]byte, bool, error) {
	ms, err := parseObject(old)
	if err != nil {
		return nil, false, err
	}
	changed := false
	keys := make([]string, 0, len(defaults))
	for k := range defaults {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := defaults[k]
		i := slices.IndexFunc(ms, func(m member) bool { return m.key == k })
		if i < 0 {
			b, err := json.Marshal(d)
			if err != nil {
				return nil, false, err
			}
			ms = append(ms, member{k, b})
			changed = true
			continue
		}
		sub, ok := d.(map[string]any)
		if !ok || !bytes.HasPrefix(bytes.TrimSpace(ms[i].val), []byte("{")) {
			continue // the user's value stands, whatever its type
		}
		out, ch, err := mergeObject(ms[i].val, sub)
		if err != nil {
			return nil, false, err
		}
		if ch {
			ms[i].val, changed = out, true
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.val)
	}
	b.WriteByte('}')
	return b.Bytes(), changed, nil
}

// TOMLTable is a table of a TOML file and the keys paddock wants in it; Path nil is the top level.
type TOMLTable struct {
	Path []string
	Keys map[string]any // string, bool or int values
}

// MergeTOML adds to the TOML file root/rel the keys of tables it lacks, keeping everything the
// file has, comments and order included: a missing top-level key goes at the top of the file, a
// missing table at its end, a key missing from an existing table just after that table's header.
// A table the file defines in another form (inline, or dotted keys) is left as it is. A file that
// does not parse is left untouched and ErrNotObject returned.
func MergeTOML(root, rel string, tables []TOMLTable) error {
	path := filepath.Join(root, rel)
	old, err := fsutil.ReadFileBeneath(root, rel, maxSettings)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var doc map[string]any
	if err := toml.Unmarshal(old, &doc); err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrNotObject, err)
	}
	text := string(old)
	changed := false
	for _, t := range tables {
		node, exists := lookupTOML(doc, t.Path)
		keys := make([]string, 0, len(t.Keys))
		for k := range t.Keys {
			if _, ok := node[k]; !ok || !exists {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			continue
		}
		sort.Strings(keys)
		var lines strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&lines, "%s = %s\n", tomlKey(k), tomlValue(t.Keys[k]))
		}
		switch {
		case len(t.Path) == 0:
			text = lines.String() + text
		case !exists:
			if node != nil {
				continue // defined some other way (a value, not a table)
			}
			if text != "" && !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			if text != "" {
				text += "\n"
			}
			text += "[" + tomlPath(t.Path) + "]\n" + lines.String()
		default:
			at := headerEnd(text, t.Path)
			if at < 0 {
				continue // an inline table or dotted keys: the user's form stands
			}
			text = text[:at] + lines.String() + text[at:]
		}
		changed = true
	}
	if !changed {
		return nil
	}
	var check map[string]any
	if err := toml.Unmarshal([]byte(text), &check); err != nil {
		return fmt.Errorf("%s: adding paddock's settings would break it (%v); left as it was", path, err)
	}
	return writeAtomic(root, rel, []byte(text))
}

// lookupTOML finds the table at path: exists is false when some part is missing; node is
// non-nil but not a table when something else is there (then exists is false too).
func lookupTOML(doc map[string]any, path []string) (node map[string]any, exists bool) {
	cur := doc
	for _, p := range path {
		v, ok := cur[p]
		if !ok {
			return nil, false
		}
		m, ok := v.(map[string]any)
		if !ok {
			return map[string]any{}, false
		}
		cur = m
	}
	return cur, true
}

// headerEnd is the offset just after the line `[path]` in text, -1 when there is none.
func headerEnd(text string, path []string) int {
	want := make([]string, len(path))
	for i, p := range path {
		want[i] = p
	}
	off := 0
	for _, line := range strings.SplitAfter(text, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") && !strings.HasPrefix(l, "[[") {
			if h, ok := parseHeader(l); ok && slices.Equal(h, want) {
				end := off + len(line)
				if !strings.HasSuffix(line, "\n") {
					return -1
				}
				return end
			}
		}
		off += len(line)
	}
	return -1
}

// parseHeader reads a table header line through the TOML parser itself.
func parseHeader(line string) ([]string, bool) {
	if i := strings.LastIndex(line, "]"); i >= 0 {
		line = line[:i+1]
	}
	var doc map[string]any
	if toml.Unmarshal([]byte(line+"\n"), &doc) != nil {
		return nil, false
	}
	var path []string
	for len(doc) == 1 {
		for k, v := range doc {
			path = append(path, k)
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			doc = m
		}
	}
	return path, len(doc) == 0
}

func tomlKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return strconv.Quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

func tomlPath(p []string) string {
	q := make([]string, len(p))
	for i, k := range p {
		q[i] = tomlKey(k)
	}
	return strings.Join(q, ".")
}

func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		b, _ := json.Marshal(x) // a JSON string is a TOML basic string
		return string(b)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	}
	panic(fmt.Sprintf("tomlValue: unsupported %T", v))
}

// writeAtomic replaces root/rel with data (mode 0600); a link there is replaced, not followed.
func writeAtomic(root, rel string, data []byte) error {
	return fsutil.ReplaceFileBeneath(root, rel, data, 0o600)
}

// WriteIfMissing creates root/rel with data (mode 0600) unless something is there.
func WriteIfMissing(root, rel string, data []byte) error {
	if err := fsutil.CreateFileBeneath(root, rel, data, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// fileExists: something is at root/rel (a link counts, and is not followed).
func fileExists(root, rel string) bool {
	_, err := fsutil.LstatBeneath(root, rel)
	return err == nil
}
