package tarcopy

// WriteOptions shape a stream made from a host path.
type WriteOptions struct {
	// Follow copies what a symlink given as the source points to, rather than the link.
	Follow bool
	// Owners keeps the files' owners (numeric); otherwise the stream's files belong to root.
	Owners bool
	// Contents writes the folder's entries at the top ("." is the folder itself).
	Contents bool
}
