package image

import "time"

// Config is the part of an image's configuration a sandbox honours.
type Config struct {
	Env        []string          `json:"env,omitempty"`
	User       string            `json:"user,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	StopSignal string            `json:"stop_signal,omitempty"`
}

// LayerRecord is one layer of an image, in order from the lowest.
type LayerRecord struct {
	DiffID    string `json:"diff_id"`          // sha256 of the uncompressed tar: the cache key
	Digest    string `json:"digest,omitempty"` // digest of the blob as the source holds it
	Size      int64  `json:"size"`             // size of that blob
	MediaType string `json:"media_type,omitempty"`
}

// Record is what the cache keeps about one template (a reference), whatever the id flavour.
type Record struct {
	Ref string `json:"ref"` // normalized reference
	// Digest is the image manifest's digest; for imports that have no manifest (docker save
	// archives, rootfs tarballs) it is the config digest, i.e. the image ID.
	Digest string `json:"digest"`
	// ID is the config blob's digest (docker's image ID).
	ID string `json:"id"`
	// RemoteDigest is what the reference resolved to in the registry (an index or the manifest):
	// a later pull that resolves to the same digest downloads nothing.
	RemoteDigest string        `json:"remote_digest,omitempty"`
	Source       string        `json:"source"` // "registry", "docker-archive", "oci-layout", "rootfs", "docker-engine"
	Platform     string        `json:"platform"`
	Created      time.Time     `json:"created,omitzero"` // the image's own creation time
	Pulled       time.Time     `json:"pulled"`           // when paddock fetched it
	Config       Config        `json:"config"`
	Layers       []LayerRecord `json:"layers"`
}

// index is the on-disk list of templates, images/index.json.
type index struct {
	Schema int                `json:"schema"`
	Images map[string]*Record `json:"images"`
}

// LayerInfo is what unpacking a layer found, kept beside it in layer.json.
type LayerInfo struct {
	DiffID string `json:"diff_id"`
	// DiskSize is the space its files take (allocated blocks, hard links counted once).
	DiskSize int64 `json:"disk_size"`
	Entries  int   `json:"entries"`
	// Squashed counts entries whose owner cannot exist in this flavour (no subordinate ids, or
	// an id beyond the mapped range): they were given to root (or nobody, above 65535).
	Squashed int `json:"squashed,omitempty"`
	// SetIDStripped counts setuid/setgid bits removed from files not owned by root.
	SetIDStripped int `json:"setid_stripped,omitempty"`
	// SetuidRoot counts setuid-root files kept (sudo, su); SetuidRootFiles names the first few.
	// A sandbox of an image with any runs without no_new_privs so that they work.
	SetuidRoot      int      `json:"setuid_root,omitempty"`
	SetuidRootFiles []string `json:"setuid_root_files,omitempty"`
	// Skipped lists entries left out: device nodes, xattrs paddock does not keep, entries under
	// a symlink, unknown types (at most 20 listed; SkippedCount has them all).
	Skipped      []string `json:"skipped,omitempty"`
	SkippedCount int      `json:"skipped_count,omitempty"`
	Whiteouts    int      `json:"whiteouts,omitempty"`
	Opaque       int      `json:"opaque_dirs,omitempty"`
}
