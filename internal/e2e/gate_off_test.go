//go:build !e2e

package e2e

// suiteEnabled: without -tags e2e (a plain `go test ./...`), the suite, which runs real
// sandboxes as root and as a user it creates, a Docker engine and real agents, does not run.
const suiteEnabled = false
