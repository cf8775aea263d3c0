package sandbox

// killServing: paddock's host processes on Windows (the Docker backend's egress host side) end
// with their container's stop.
func killServing(string) error { return nil }
