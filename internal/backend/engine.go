package backend

// Engine describes the container engine a backend runs on (the Docker backend's).
type Engine struct {
	Host          string `json:"host"`
	Version       string `json:"version"`
	APIVersion    string `json:"api_version"`
	MinAPIVersion string `json:"min_api_version"`
	NegotiatedAPI string `json:"negotiated_api_version"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	Name          string `json:"name"` // e.g. "Docker Desktop", "Docker Engine - Community"
	System        string `json:"operating_system,omitempty"`
	CgroupVersion string `json:"cgroup_version,omitempty"`
	NCPU          int    `json:"ncpu"`
	MemTotal      int64  `json:"mem_total"`
	Context       string `json:"context,omitempty"` // the docker CLI context that named it
	// Egress is how sandboxes reach paddock's proxy: "socket" (the engine is on this host) or
	// "link" (over docker exec streams).
	Egress string `json:"egress"`
}
