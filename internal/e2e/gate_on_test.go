//go:build e2e

package e2e

// suiteEnabled: built with -tags e2e (scripts/test.sh), the suite runs.
const suiteEnabled = true
